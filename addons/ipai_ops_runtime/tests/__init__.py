from . import test_attack_runtime, test_instances, test_roles, test_tour
