from . import top_queries
