from . import ops_module_change
