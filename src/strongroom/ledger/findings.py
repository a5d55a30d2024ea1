"""What an audit-bundle verification found, and the signed tree heads it checks against.

Shared by :mod:`strongroom.ledger.bundle` (the format and the fast check) and
its diagnosis (which entry is wrong, and how).

Example::

    >>> str(Finding(FindingKind.DELETED, 4, "entry 4 was deleted").kind)
    'deleted'
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Sequence
from typing import TypeAlias

from strongroom.ledger.merkle import Frontier

__all__ = ["Anchor", "Entry", "Finding", "FindingKind", "extend_peaks"]

Entry: TypeAlias = tuple[bytes, bytes]
"""One bundle line: (stored leaf hash, entry bytes)."""

_sha256 = hashlib.sha256


class FindingKind(enum.StrEnum):
    """What a :class:`Finding` says happened (a ``str``, so it compares to plain strings)."""

    MODIFIED = "modified"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    FORKED = "forked"
    BAD_SIGNATURE = "bad-signature"
    KEY_CHANGED = "key-changed"


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with a bundle, in words precise enough to act on.

    ``index`` is the leaf index (the entry's ``seq``) concerned, or the tree
    size for ``forked`` and ``truncated``; ``None`` when no single entry can
    be named. ``span`` is the half-open leaf range ``[start, end)`` when
    tampering is only located to a range.
    """

    kind: str
    index: int | None
    message: str
    span: tuple[int, int] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Anchor:
    """A signed tree head the entries must hash to: from the bundle, the state, or a peer."""

    size: int
    root: bytes
    source: str  # "bundle", "state" or "peer"
    label: str  # human words for where it comes from
    note: str


def extend_peaks(frontier: Frontier, leaves: Sequence[bytes]) -> Frontier:
    """Return ``frontier.extend(leaves)[0]``, hashing level by level instead of leaf by leaf.

    Same result (the tests check it), about five times faster, and no stored
    node list: the verifier needs the peaks only. RFC 9162 §2.1.1: at each
    level the new complete nodes pair up left to right, the lowest old peak
    joining first when the old size is odd at that level; an unpaired last
    node is the new peak of that level.
    """
    old = frontier.size
    levels = [lv for lv in range(old.bit_length() - 1, -1, -1) if old >> lv & 1]
    old_peaks = dict(zip(levels, frontier.peaks, strict=True))
    new_peaks: dict[int, bytes] = {}
    row = list(leaves)
    level = 0
    while row or old >> level:
        if old >> level & 1:
            row.insert(0, old_peaks[level])
        if len(row) & 1:
            new_peaks[level] = row.pop()
        row = [
            _sha256(b"\x01" + left + right).digest()
            for left, right in zip(row[0::2], row[1::2], strict=False)
        ]
        level += 1
    peaks = tuple(new_peaks[lv] for lv in sorted(new_peaks, reverse=True))
    return Frontier(old + len(leaves), peaks)
