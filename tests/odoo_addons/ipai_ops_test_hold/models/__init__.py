from . import ops_hold
