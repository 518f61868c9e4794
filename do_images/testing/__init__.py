"""An in-memory DigitalOcean Images API for tests and demos.

``Emulator``, ``Fault`` and ``RecordedRequest`` are the public names.

``async with Emulator() as emu:`` serves at ``emu.url``; ``python -m do_images.testing`` runs it
standalone; ``pytest_plugins = ["do_images.testing.pytest_plugin"]`` gives a fixture.
"""

from ._cli import serve
from ._faults import Fault
from ._records import RecordedRequest
from ._server import STANDALONE_REQUEST_LOG, Emulator

__all__ = ["STANDALONE_REQUEST_LOG", "Emulator", "Fault", "RecordedRequest", "serve"]
