"""Canonical binary encoding shared by the crypto blob formats (private).

Every serialized blob starts with a 4-byte magic naming its purpose and a
1-byte format version. Variable-length fields are length-prefixed so that no
two different field tuples can encode to the same bytes (unlike plain
concatenation, where ``("ab", "c")`` and ``("a", "bc")`` collide).

Example::

    >>> from strongroom.crypto._encoding import lp16
    >>> lp16(b"ab")
    b'\\x00\\x02ab'
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["FORMAT_V1", "U16", "U32", "U64", "lp16"]

FORMAT_V1: Final = 1
"""The only blob format version defined so far."""

U16: Final = struct.Struct(">H")
U32: Final = struct.Struct(">I")
U64: Final = struct.Struct(">Q")

_u16 = U16.pack


def lp16(data: bytes) -> bytes:
    """Return ``data`` prefixed with its length as an unsigned 16-bit big-endian int."""
    return _u16(len(data)) + data
