from . import ops_alert, ops_backup, ops_environment, ops_run, ops_run_log, ops_runtime_host
