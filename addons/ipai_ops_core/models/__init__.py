from . import (
    ops_field_policy,
    ops_wizard_access,
    ops_db_server,
    ops_environment,
    ops_project,
    ops_project_member,
    ops_run,
    ops_run_event,
    ops_run_progress,
    ops_run_executor,
    ops_run_retention,
    res_users,
)
