from . import test_build_changes
