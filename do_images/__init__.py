"""do_images: the async Python SDK for DigitalOcean's Images API (public names only)."""

from ._client import Client
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

__all__ = [
    "APIConnectionError",
    "APIError",
    "Action",
    "ActionFailedError",
    "ActionTimeoutError",
    "AuthenticationError",
    "Checkpoints",
    "Client",
    "ClientClosedError",
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
    "Region",
    "ResponseDecodeError",
    "ServerError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "__version__",
    "crawl",
]
