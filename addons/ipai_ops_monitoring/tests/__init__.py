from . import test_monitoring
from . import test_tour
from . import test_security_rpc
from . import test_attack_new_surfaces
