from . import test_attack_builds
from . import test_builds, test_development_builds, test_production_builds, test_staging_builds
from . import test_attack_branches
