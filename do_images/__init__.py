"""do_images: the async Python SDK for DigitalOcean's Images API."""

__version__ = "0.1.0"
