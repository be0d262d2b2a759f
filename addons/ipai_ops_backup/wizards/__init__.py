from . import restore_wizard
