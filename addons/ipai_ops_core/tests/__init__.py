from . import (
    test_db_server,
    test_dead_mans_switch,
    test_environment,
    test_executor,
    test_live_rpc,
    test_record_rules,
    test_roles,
    test_run_events,
    test_runs,
    test_smoke,
    test_tour,
    test_uninstall,
)
