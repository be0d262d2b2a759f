from . import models
from . import wizards
from .hooks import _create_default_mask_rules
