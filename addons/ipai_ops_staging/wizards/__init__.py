from . import staging_wizard
