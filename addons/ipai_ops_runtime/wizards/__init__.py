from . import instance_log, instance_update
