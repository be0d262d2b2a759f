from . import logs
