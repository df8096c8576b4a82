from . import relance_preview
from . import relance_dispute_wizard
