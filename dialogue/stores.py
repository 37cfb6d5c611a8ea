"""The stores under their earlier module name (kept so existing imports keep working).

New code imports from :mod:`dialogue.storage`.
"""

from .storage import *  # noqa: F403 - the same names
from .storage import __all__ as __all__  # noqa: PLC0414
