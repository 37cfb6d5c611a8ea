"""The stores under their earlier module name (kept so existing imports keep working).

New code imports from :mod:`dialogue.storage`.
"""

from .storage import *  # noqa: F403 - the same names
from .storage import __all__ as _names
from .storage.base import _decode

__all__ = [*_names, "_decode"]
