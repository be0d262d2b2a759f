from . import test_builds
