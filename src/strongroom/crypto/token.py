"""Strongroom API tokens: scanner-friendly format, stored only as keyed hashes.

A token is ``strongroom_v1_`` + 43 base62 characters (256 random bits) + 6 base62
characters of CRC32 over everything before them, 63 characters in all. The
prefix lets secret scanners find tokens, the version marker lets the format
change, and the checksum lets them discard look-alikes without a database
lookup (the scheme GitHub uses for ``ghp_`` tokens). The checksum is not a
security feature: the 256 random bits are.

The server stores only :func:`token_hash` (HMAC-SHA256 under a key derived
from the root key), so a database dump yields no usable token.

Example::

    >>> token = generate_token()
    >>> token.startswith("strongroom_v1_"), len(token), looks_like_token(token)
    (True, 63, True)
    >>> SecretToken(token)
    SecretToken('strongroom_v1_<redacted>')
"""

from __future__ import annotations

import re
import zlib
from typing import Final

from strongroom.crypto._primitives import constant_time_equal, hmac_sha256, random_bytes
from strongroom.types import TokenAccessor

__all__ = [
    "TOKEN_PREFIX",
    "SecretToken",
    "generate_accessor",
    "generate_token",
    "looks_like_token",
    "token_hash",
]

TOKEN_PREFIX: Final = "strongroom_v1_"  # noqa: S105 - a public prefix, not a secret
"""Prefix of every current token: product name, then the format version."""

ACCESSOR_PREFIX: Final = "acc_"
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_CHARS: Final = 43  # ceil(256 / log2(62))
_CHECK_CHARS: Final = 6  # 62**6 > 2**32
_TOKEN_RE: Final = re.compile(
    re.escape(TOKEN_PREFIX) + f"[0-9A-Za-z]{{{_BODY_CHARS + _CHECK_CHARS}}}"
)
_HASH_DOMAIN: Final = b"strongroom/token/v1\x00"


def _base62(value: int, width: int) -> str:
    """Encode ``value`` as exactly ``width`` base62 digits, most significant first."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    if value:
        raise ValueError("value does not fit in the requested width")
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    """CRC32 of ``text`` as 6 base62 digits."""
    return _base62(zlib.crc32(text.encode("ascii")), _CHECK_CHARS)


def generate_token() -> str:
    """Return a new random token (``strongroom_v1_…``, 63 characters)."""
    body = TOKEN_PREFIX + _base62(int.from_bytes(random_bytes(32), "big"), _BODY_CHARS)
    return body + _checksum(body)


def looks_like_token(s: str) -> bool:
    """True if ``s`` has the token format and a valid checksum (says nothing of validity)."""
    if not _TOKEN_RE.fullmatch(s):
        return False
    split = len(s) - _CHECK_CHARS
    return s[split:] == _checksum(s[:split])


def token_hash(key: bytes, token: str) -> bytes:
    """Return the keyed hash stored in place of ``token``: HMAC-SHA256, 32 bytes.

    ``key`` is the root-derived ``token-hmac`` key (at least 32 bytes).
    """
    if len(key) < 32:
        raise ValueError("token hash key must be at least 32 bytes")
    return hmac_sha256(key, _HASH_DOMAIN + token.encode())


def generate_accessor() -> TokenAccessor:
    """Return a new non-secret token id (``acc_`` + 22 base62 characters, 128 random bits)."""
    return TokenAccessor(ACCESSOR_PREFIX + _base62(int.from_bytes(random_bytes(16), "big"), 22))


class SecretToken:
    """A token value that masks itself in ``repr``/``str`` and compares in constant time."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("token must be str")
        self._value = value

    @classmethod
    def generate(cls) -> SecretToken:
        """Return a new random token, wrapped."""
        return cls(generate_token())

    def get_secret_value(self) -> str:
        """Return the token itself. Never log it."""
        return self._value

    def __repr__(self) -> str:
        shown = TOKEN_PREFIX if self._value.startswith(TOKEN_PREFIX) else ""
        return f"SecretToken('{shown}<redacted>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretToken):
            return NotImplemented
        return constant_time_equal(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # unhashable: never a dict key or log field
