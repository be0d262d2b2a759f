from . import ops_build, ops_project
