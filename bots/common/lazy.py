"""Names a module offers without importing where they live until they are first used (PEP 562).

Two uses: a package facade that must not pull in its chat SDK on import (``mbcbot slack
manifest`` runs without slack-bolt), and names that moved to another module but stay
importable from the old one (the servers and ``main()`` moved from ``app.py`` to ``run.py``,
which itself imports ``app.py``: an eager re-export would be an import cycle).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` that imports ``homes[name]`` and returns its ``name``."""
    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return __getattr__
