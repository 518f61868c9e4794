"""do_images: the async Python SDK for DigitalOcean's Images API (public names only)."""

from ._client import Client
from ._clock import Clock
from ._convert import from_dict, to_dict
from ._crawl import Checkpoints, Crawl, Crawled, CrawlProgress, MemoryCheckpoints, crawl
from ._errors import (
    ActionFailedError,
    ActionTimeoutError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    ClientClosedError,
    DeadlineExceededError,
    DigitalOceanError,
    ImageFailedError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    UnprocessableEntityError,
    WaitTimeoutError,
)
from ._governor import RateLimiter
from ._models import Action, Image, RateLimit, Region
from ._pagination import Page, Paginator
from ._version import __version__
from ._windows import DIGITALOCEAN_LIMITS, MAX_PAUSE, RateWindow

__all__ = [
    "DIGITALOCEAN_LIMITS",
    "MAX_PAUSE",
    "APIConnectionError",
    "APIError",
    "Action",
    "ActionFailedError",
    "ActionTimeoutError",
    "AuthenticationError",
    "Checkpoints",
    "Client",
    "ClientClosedError",
    "Clock",
    "Crawl",
    "CrawlProgress",
    "Crawled",
    "DeadlineExceededError",
    "DigitalOceanError",
    "Image",
    "ImageFailedError",
    "MemoryCheckpoints",
    "NotFoundError",
    "Page",
    "Paginator",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "RateWindow",
    "Region",
    "ResponseDecodeError",
    "ServerError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
    "crawl",
    "from_dict",
    "to_dict",
]
