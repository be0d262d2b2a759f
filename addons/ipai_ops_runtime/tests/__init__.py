from . import test_instances, test_roles, test_tour
