"""The seed catalogue (public distributions, 1-Click apps, a default account's own images)
and the generated defaults every new image starts from.
"""

from __future__ import annotations

from typing import Any

from ._vocab import PUBLIC_REGIONS

#: Image kinds: the first two are public, the rest are private to an account.
PUBLIC_KINDS: frozenset[str] = frozenset({"distribution", "application"})
PRIVATE_KINDS: frozenset[str] = frozenset({"snapshot", "backup", "custom"})
KINDS: frozenset[str] = PUBLIC_KINDS | PRIVATE_KINDS

# The ``type`` attribute DigitalOcean serves for each kind (the ``type`` query filter is the kind).
TYPE_ATTRIBUTE: dict[str, str] = {
    "distribution": "base",
    "application": "snapshot",
    "snapshot": "snapshot",
    "backup": "backup",
    "custom": "custom",
}

# (slug, name, distribution, min_disk_size, size_gigabytes, created_at). DO serves AlmaLinux
# as distribution "AlmaLinux", which the spec's enum lacks: "Unknown" here.
DISTRIBUTIONS: tuple[tuple[str, str, str, int, float, str], ...] = (
    ("centos-stream-9-x64", "9 Stream x64", "CentOS", 10, 1.28, "2024-03-05T16:43:47Z"),
    ("debian-11-x64", "11 x64", "Debian", 15, 1.09, "2024-04-11T15:04:11Z"),
    ("ubuntu-20-04-x64", "20.04 (LTS) x64", "Ubuntu", 15, 0.99, "2024-04-23T11:54:52Z"),
    ("fedora-39-x64", "39 x64", "Fedora", 15, 0.96, "2024-04-30T19:46:00Z"),
    ("rockylinux-8-x64", "8 x64", "Rocky Linux", 10, 0.96, "2024-05-20T14:42:48Z"),
    ("almalinux-8-x64", "AlmaLinux 8", "Unknown", 10, 0.93, "2024-06-03T18:25:30Z"),
    ("freebsd-13-x64-zfs", "13.3 zfs x64", "FreeBSD", 20, 1.11, "2024-06-17T20:01:16Z"),
    ("fedora-40-x64", "40 x64", "Fedora", 15, 1.05, "2024-07-10T14:36:52Z"),
    ("rockylinux-9-x64", "9 x64", "Rocky Linux", 10, 0.98, "2024-07-16T15:25:04Z"),
    ("almalinux-9-x64", "AlmaLinux 9", "Unknown", 10, 0.97, "2024-07-23T17:40:11Z"),
    ("freebsd-14-x64-ufs", "14.1 ufs x64", "FreeBSD", 20, 1.02, "2024-08-01T13:22:40Z"),
    ("freebsd-14-x64-zfs", "14.1 zfs x64", "FreeBSD", 20, 1.19, "2024-08-01T13:58:02Z"),
    ("debian-12-x64", "12 x64", "Debian", 15, 1.13, "2024-08-27T10:17:45Z"),
    ("ubuntu-22-04-x64", "22.04 (LTS) x64", "Ubuntu", 15, 1.19, "2024-09-10T18:34:22Z"),
    ("ubuntu-24-04-x64", "24.04 (LTS) x64", "Ubuntu", 15, 1.36, "2024-09-24T19:02:35Z"),
    ("centos-stream-10-x64", "10 Stream x64", "CentOS", 10, 1.31, "2024-12-19T16:11:03Z"),
    ("ubuntu-24-10-x64", "24.10 x64", "Ubuntu", 15, 1.42, "2024-10-15T09:48:12Z"),
    ("fedora-41-x64", "41 x64", "Fedora", 15, 1.08, "2024-11-05T12:30:19Z"),
)  # fmt: skip

# (slug, name, min_disk_size, size_gigabytes, created_at)
APPLICATIONS: tuple[tuple[str, str, int, float, str], ...] = (
    ("docker-20-04", "Docker 25.0.3 on Ubuntu 22.04", 25, 3.41, "2024-02-21T20:58:11Z"),
    ("wordpress-20-04", "WordPress 6.5 on Ubuntu 22.04", 25, 4.92, "2024-04-18T16:20:34Z"),
    ("lamp-20-04", "LAMP on Ubuntu 22.04", 25, 3.02, "2024-04-25T13:45:57Z"),
    ("lemp-20-04", "LEMP on Ubuntu 22.04", 25, 2.89, "2024-04-25T14:03:21Z"),
    ("nodejs-20-04", "NodeJS 20.12 on Ubuntu 22.04", 25, 3.37, "2024-05-02T09:12:44Z"),
    ("mysql-20-04", "MySQL 8.0 on Ubuntu 22.04", 25, 3.18, "2024-05-09T11:31:05Z"),
    ("mongodb-7-0", "MongoDB 7.0 on Ubuntu 22.04", 25, 3.55, "2024-05-14T17:08:29Z"),
    ("gitlab-ee-20-04", "GitLab EE 16.11 on Ubuntu 22.04", 50, 8.64, "2024-05-21T08:57:50Z"),
    ("openvpn-as-20-04", "OpenVPN Access Server on Ubuntu 22.04", 25, 2.73, "2024-06-04T15:26:13Z"),
    ("discourse-20-04", "Discourse on Ubuntu 22.04", 25, 4.11, "2024-06-11T10:40:36Z"),
)  # fmt: skip


def public_catalogue() -> list[tuple[str, dict[str, Any]]]:
    """``(kind, fields)`` of every seeded public image, oldest first."""
    out: list[tuple[str, dict[str, Any]]] = []
    for slug, name, distro, disk, size, created in DISTRIBUTIONS:
        desc = name if distro == "Unknown" else f"{distro} {name}"
        fields = {"slug": slug, "name": name, "distribution": distro, "min_disk_size": disk}
        fields |= {"size_gigabytes": size, "created_at": created, "description": desc}
        out.append(("distribution", fields))
    for slug, name, disk, size, created in APPLICATIONS:
        fields = {"slug": slug, "name": name, "distribution": "Ubuntu", "min_disk_size": disk}
        fields |= {"size_gigabytes": size, "created_at": created, "description": name}
        out.append(("application", fields))
    out.sort(key=lambda kf: str(kf[1]["created_at"]))
    return out


def private_catalogue() -> list[tuple[str, dict[str, Any]]]:
    """``(kind, fields)`` of the default account's images: snapshots (two of web-01), a
    backup, a custom one."""
    return [
        ("snapshot", {"name": "web-01 2024-11-02", "regions": ["nyc3"], "tags": ["prod"],
                      "created_at": "2024-11-02T08:15:00Z", "size_gigabytes": 2.41}),
        ("snapshot", {"name": "db-01 before upgrade", "regions": ["nyc3", "ams3"],
                      "created_at": "2024-11-20T22:41:13Z", "min_disk_size": 50,
                      "size_gigabytes": 11.7}),
        # A later snapshot of web-01: `images prune --keep 1 --name-prefix web-01` prunes one.
        ("snapshot", {"name": "web-01 2025-01-08", "regions": ["fra1"], "tags": ["staging"],
                      "created_at": "2025-01-08T12:02:55Z", "size_gigabytes": 1.97}),
        ("backup", {"name": "web-01 2025-01-12", "regions": ["nyc3"],
                    "created_at": "2025-01-12T04:10:09Z", "size_gigabytes": 2.52}),
        ("custom", {"name": "arch-minimal", "distribution": "Arch Linux", "regions": ["sfo3"],
                    "created_at": "2025-01-15T17:33:41Z", "description": "Arch Linux, cloud-init",
                    "min_disk_size": 10, "size_gigabytes": 0.84}),
    ]  # fmt: skip


def default_fields(kind: str, image_id: int, created_at: str) -> dict[str, Any]:
    """A complete image object for ``kind``, in DigitalOcean's key order."""
    public = kind in PUBLIC_KINDS
    if kind == "distribution":
        name, slug, regions = f"Distribution {image_id} x64", f"distribution-{image_id}-x64", None
    elif kind == "application":
        name, slug, regions = f"1-Click App {image_id}", f"app-{image_id}", None
    else:
        name, slug, regions = f"{kind}-{image_id}", None, ["nyc3"]
    return {
        "id": image_id,
        "name": name,
        "distribution": "Ubuntu",
        "slug": slug,
        "public": public,
        "regions": list(PUBLIC_REGIONS) if regions is None else regions,
        "created_at": created_at,
        "type": TYPE_ATTRIBUTE[kind],
        "min_disk_size": 15 if public else 25,
        "size_gigabytes": 1.36 if public else 2.34,
        "description": "",
        "tags": [],
        "status": "available",
        "error_message": "",
    }
