"""Signatures of webhook deliveries: HMAC-SHA256 over the timestamp and the body.

The header a receiver checks is ``Strongroom-Signature: t=<unix seconds>,v1=<hex>``
where ``v1`` is HMAC-SHA256(key, ``"<t>." || body``). Signing the timestamp
with the body lets a receiver refuse replays older than its tolerance; the
``v1`` label is the version marker, so the scheme can change without
ambiguity (the same shape Stripe and GitHub receivers already parse).

Example::

    >>> header = sign_webhook(b"k" * 32, b'{"kind":"brute_force"}', timestamp=1700000000)
    >>> header.startswith("t=1700000000,v1=")
    True
    >>> verify_webhook(b"k" * 32, b'{"kind":"brute_force"}', header, now=1700000010)
"""

from __future__ import annotations

from strongroom.crypto._primitives import constant_time_equal, hmac_sha256
from strongroom.errors import IntegrityViolation

__all__ = ["SIGNATURE_HEADER", "sign_webhook", "verify_webhook"]

SIGNATURE_HEADER = "Strongroom-Signature"
_VERSION = "v1"


def _mac(key: bytes, body: bytes, timestamp: int) -> str:
    return hmac_sha256(key, str(timestamp).encode() + b"." + body).hex()


def sign_webhook(key: bytes, body: bytes, *, timestamp: int) -> str:
    """The ``Strongroom-Signature`` value for ``body`` sent at ``timestamp``."""
    if len(key) < 16:
        raise ValueError("a webhook key must be at least 16 bytes")
    return f"t={timestamp},{_VERSION}={_mac(key, body, timestamp)}"


def verify_webhook(
    key: bytes, body: bytes, header: str, *, now: int, tolerance_s: int = 300
) -> None:
    """Raise IntegrityViolation unless ``header`` signs ``body`` within ``tolerance_s`` of now."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts[_VERSION]
    except (KeyError, ValueError) as exc:
        raise IntegrityViolation("the webhook signature header is malformed") from exc
    if abs(now - timestamp) > tolerance_s:
        raise IntegrityViolation("the webhook signature is too old or from the future")
    if not constant_time_equal(given.encode(), _mac(key, body, timestamp).encode()):
        raise IntegrityViolation("the webhook signature does not match")
