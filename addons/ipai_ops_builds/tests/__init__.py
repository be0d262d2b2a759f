from . import test_builds, test_development_builds
