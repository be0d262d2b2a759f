from . import build_log
