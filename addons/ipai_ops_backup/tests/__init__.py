from . import test_backup_runs
from . import test_approval
