from . import top_queries
from . import activity
from . import tables_report
from . import server_review
