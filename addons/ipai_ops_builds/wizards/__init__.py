from . import branch_wizard, build_log
