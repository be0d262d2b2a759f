from . import ops_build, ops_build_run, ops_project, ops_run
