"""Entry point of ``python -m do_images.testing``."""

import sys

from ._cli import serve

sys.exit(serve())
