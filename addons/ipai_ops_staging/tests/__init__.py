from . import test_copies
from . import test_tour
from . import test_security_rpc
