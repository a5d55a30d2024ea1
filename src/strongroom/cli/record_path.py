"""``MOUNT/PATH`` arguments of the ``kv`` commands, and the KV v2 URLs they name.

The first segment of a target is the mount; the rest is the record path (or,
for a listing, the folder prefix).

Example::

    >>> split_target("secret/app/db")
    ('secret', 'app/db')
    >>> split_target("secret", folder=True)
    ('secret', '')
    >>> kv_url("secret", "data", "app/db")
    '/v1/secret/data/app/db'
"""

from __future__ import annotations

from urllib.parse import quote

from strongroom.errors import InvalidInput

__all__ = ["kv_url", "split_target"]


def split_target(target: str, *, folder: bool = False) -> tuple[str, str]:
    """Split ``MOUNT/PATH`` into mount and path.

    With ``folder`` the path may be empty (the mount's root) and is returned
    with a trailing ``/`` otherwise, as a listing prefix.
    """
    mount, _, path = target.strip().strip("/").partition("/")
    if not mount:
        raise InvalidInput("name a target as MOUNT/PATH, e.g. secret/app/db")
    if folder:
        return mount, (path.rstrip("/") + "/") if path.strip("/") else ""
    if not path:
        raise InvalidInput(f"{target!r} names a mount but no path; write MOUNT/PATH")
    return mount, path


def kv_url(mount: str, op: str, path: str) -> str:
    """The URL path of a KV v2 operation (``data``, ``metadata``, ``delete``, …).

    Each part is percent-encoded; the path's own ``/`` separators are kept, and
    an empty path still ends in ``/`` so it matches the folder route.
    """
    return f"/v1/{quote(mount, safe='')}/{op}/{quote(path, safe='/')}"
