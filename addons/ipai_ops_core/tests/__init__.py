from . import (
    test_db_server,
    test_environment,
    test_executor,
    test_record_rules,
    test_roles,
    test_run_events,
    test_tour,
)
from . import test_runs
