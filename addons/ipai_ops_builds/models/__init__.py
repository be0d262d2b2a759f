from . import (
    ops_build,
    ops_build_run,
    ops_build_staging,
    ops_environment,
    ops_project,
    ops_run,
)
