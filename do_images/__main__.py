"""``python -m do_images``: the ``do-images`` command line."""

import sys

from .cli import main

sys.exit(main())
