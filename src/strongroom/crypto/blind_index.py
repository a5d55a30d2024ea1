"""Blind indexes: keyed HMACs of normalised values, for exact-match search over ciphertexts.

``compute(value)`` is HMAC-SHA256 under a per-field key, of the value after
NFKC case folding (Unicode ``NFKC_Casefold`` via NFKC, ``casefold``, NFKC) and
whitespace normalisation (trimmed, internal runs collapsed to one space). So
``" Ada  LOVELACE "`` and ``"ada lovelace"`` index the same, while an attacker
without the key cannot test guesses against the stored index.

The per-field key is ``HMAC(key, "strongroom/blind-index/v1" || len || field)``,
so equal values in different fields (an email and a name) never share an index.

Example::

    >>> from strongroom.crypto.keys import KeyPurpose, RootKey
    >>> root = RootKey.generate()
    >>> email = BlindIndex(root.derive(KeyPurpose.BLIND_INDEX), field="patient.email")
    >>> email.compute("Ada@Example.org ") == email.compute("ada@example.org")
    True
    >>> email
    BlindIndex(field='patient.email', key=<redacted>)
"""

from __future__ import annotations

import unicodedata
from typing import Final

from strongroom.crypto._encoding import lp16
from strongroom.crypto._primitives import hmac_sha256

__all__ = ["BlindIndex", "normalise"]

_DOMAIN: Final = b"strongroom/blind-index/v1"


def normalise(value: str) -> str:
    """Return ``value`` NFKC-casefolded with whitespace trimmed and runs collapsed to one space."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return " ".join(folded.split())


class BlindIndex:
    """Computes the blind index of one field's values under a root-derived key."""

    __slots__ = ("_field", "_key")

    def __init__(self, key: bytes, *, field: str) -> None:
        if len(key) < 32:
            raise ValueError("blind index key must be at least 32 bytes")
        if not field:
            raise ValueError("field name must not be empty")
        self._field = field
        # Domain separation per field (RFC 2104 keys may be any length; the
        # derived key is a full-strength 32-byte HMAC output).
        self._key = hmac_sha256(key, _DOMAIN + lp16(field.encode()))

    @property
    def field(self) -> str:
        """The field name this index is for."""
        return self._field

    def __repr__(self) -> str:
        return f"BlindIndex(field={self._field!r}, key=<redacted>)"

    def compute(self, value: str) -> bytes:
        """Return the 32-byte index of ``value`` after :func:`normalise`."""
        return hmac_sha256(self._key, normalise(value).encode())
