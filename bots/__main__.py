"""``python -m bots``: the same as the ``mbcbot`` command."""

import sys

from .cli import main

sys.exit(main())
