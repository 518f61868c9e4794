"""The ``do-images`` command (console script ``do_images.cli:main``); the work is in `_cli`.

Built only on the public SDK (``do_images``, ``do_images.testing``); stdlib argparse, no extras.
"""

from ._cli._failures import EXIT_CODES
from ._cli._main import main

__all__ = ["EXIT_CODES", "main"]
