from . import ops_pgss_query
from . import ops_pgss_delta
from . import ops_size_sample
from . import ops_module_change
from . import ops_alert
from . import ops_environment
from . import ops_run
from . import ops_project
