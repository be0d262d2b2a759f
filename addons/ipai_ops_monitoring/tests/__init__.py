from . import test_monitoring
from . import test_tour
