from . import ops_mask_rule
from . import ops_project
from . import ops_environment
from . import ops_run
from . import ops_mail
