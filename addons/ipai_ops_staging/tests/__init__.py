from . import test_copies
