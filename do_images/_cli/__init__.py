"""Internals of the ``do-images`` command line (entry point: ``do_images.cli:main``).

Built only on the public SDK: ``do_images`` and ``do_images.testing``.
"""
