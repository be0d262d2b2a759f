from . import ops_alert, ops_environment, ops_run, ops_runtime_host
