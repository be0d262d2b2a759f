from . import staging_wizard
from . import restore_wizard
