from . import (
    ops_db_server,
    ops_environment,
    ops_project,
    ops_project_member,
    ops_run,
    ops_run_event,
    ops_run_executor,
)
