"""Fixed vocabulary of the Images API: region slugs and objects, distribution names, error ids.

Values come from the official spec's enums, so everything the emulator serves stays inside them.
"""

from __future__ import annotations

from typing import Any

#: The spec's ``region_slug`` enum, with each region's display name.
REGION_NAMES: dict[str, str] = {
    "ams1": "Amsterdam 1",
    "ams2": "Amsterdam 2",
    "ams3": "Amsterdam 3",
    "blr1": "Bangalore 1",
    "fra1": "Frankfurt 1",
    "lon1": "London 1",
    "nyc1": "New York 1",
    "nyc2": "New York 2",
    "nyc3": "New York 3",
    "sfo1": "San Francisco 1",
    "sfo2": "San Francisco 2",
    "sfo3": "San Francisco 3",
    "sgp1": "Singapore 1",
    "tor1": "Toronto 1",
    "syd1": "Sydney 1",
}
REGION_SLUGS: frozenset[str] = frozenset(REGION_NAMES)

#: Regions where today's public images live (the retired ones are left out, as DO does).
PUBLIC_REGIONS: tuple[str, ...] = (
    "nyc1", "nyc3", "sfo2", "sfo3", "ams3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1",
)  # fmt: skip

#: The spec's ``distribution`` enum; any other value is stored as ``Unknown`` (spec text).
DISTRIBUTIONS: frozenset[str] = frozenset(
    {
        "Arch Linux", "CentOS", "CoreOS", "Debian", "Fedora", "Fedora Atomic", "FreeBSD",
        "Gentoo", "openSUSE", "RancherOS", "Rocky Linux", "Ubuntu", "Unknown",
    }
)  # fmt: skip

_SIZES: tuple[str, ...] = (
    "s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb",
    "s-8vcpu-16gb", "c-2", "c-4", "g-2vcpu-8gb", "m-2vcpu-16gb",
)  # fmt: skip
_FEATURES: tuple[str, ...] = (
    "backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer",
)  # fmt: skip


def region_object(slug: str) -> dict[str, Any]:
    """The ``region`` object embedded in an action, as DigitalOcean serves it."""
    return {
        "name": REGION_NAMES.get(slug, slug),
        "slug": slug,
        "sizes": list(_SIZES),
        "features": list(_FEATURES),
        "available": True,
    }


#: Error ``id`` DigitalOcean uses for each status (others fall back to ``error``).
ERROR_IDS: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_entity_too_large",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
ERROR_MESSAGES: dict[int, str] = {
    401: "Unable to authenticate you",
    404: "The resource you were accessing could not be found.",
    405: "Method not allowed.",
    429: "API rate limit exceeded.",
    500: "Server was unable to give you a response.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
}
