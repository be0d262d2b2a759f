from . import ops_backup_target
from . import ops_backup
from . import ops_approval
from . import ops_environment
from . import ops_run
from . import ops_project
