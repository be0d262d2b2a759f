from . import test_backup_runs
from . import test_approval
from . import test_download
from . import test_tour
