"""Shamir splitting of the root key into SLIP-39 mnemonic shares.

Strongroom uses one SLIP-39 group (``threshold`` of ``shares``), no SLIP-39
passphrase, the non-extendable format and iteration exponent 0: the shares
protect a uniformly random 256-bit key, so the SLIP-39 PBKDF2 stretching would
add nothing. Each share carries an RS1024 checksum, so :func:`inspect_share`
can reject a mistyped share on its own, before a quorum is gathered.

Errors are :class:`~strongroom.errors.InvalidInput` with messages that never
echo a share. Whether the combined secret is the right root key is checked by
the caller against the root check value (DecryptionFailed when it is not).

Example::

    >>> secret = bytes(range(32))
    >>> shares = split(secret, shares=5, threshold=3)
    >>> combine([shares[4], shares[0], shares[2]]) == secret
    True
    >>> inspect_share(shares[1]).threshold
    3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import shamir_mnemonic
from shamir_mnemonic import MnemonicError, Share

from strongroom.errors import InvalidInput

__all__ = ["MAX_SHARES", "ShareInfo", "combine", "inspect_share", "split"]

MAX_SHARES: Final = 16
"""SLIP-39 encodes member counts and thresholds in 4 bits."""

_ITERATION_EXPONENT: Final = 0


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """Public facts about one share: which split it belongs to and its position.

    ``identifier`` is the 15-bit SLIP-39 id common to all shares of one split;
    ``index`` is the share's member index (0-based).
    """

    identifier: int
    threshold: int
    index: int


def split(secret: bytes, *, shares: int = 5, threshold: int = 3) -> list[str]:
    """Split ``secret`` into ``shares`` mnemonics, any ``threshold`` of which recover it.

    ``threshold`` must be 1..16 and ``shares`` threshold..16; SLIP-39 forbids
    several shares at threshold 1 (each would be the whole secret), so 1-of-1
    is the only single-share setup. ``secret`` must be 16..32 bytes, even length.
    """
    if not 1 <= threshold <= MAX_SHARES:
        raise InvalidInput(f"threshold must be between 1 and {MAX_SHARES}")
    if not threshold <= shares <= MAX_SHARES:
        raise InvalidInput(f"shares must be between the threshold and {MAX_SHARES}")
    if threshold == 1 and shares != 1:
        raise InvalidInput("threshold 1 allows exactly one share (1 of 1)")
    if not 16 <= len(secret) <= 32 or len(secret) % 2:
        raise InvalidInput("secret must be 16 to 32 bytes of even length")
    groups = shamir_mnemonic.generate_mnemonics(
        group_threshold=1,
        groups=[(threshold, shares)],
        master_secret=secret,
        passphrase=b"",
        extendable=False,
        iteration_exponent=_ITERATION_EXPONENT,
    )
    result: list[str] = groups[0]
    return result


def _normalise(share: str) -> str:
    """Lowercase and collapse whitespace, so retyped shares compare equal."""
    return " ".join(share.lower().split())


def _parse(share: str) -> Share:
    """Parse and checksum one share; InvalidInput (never quoting the share) if it is bad."""
    if not isinstance(share, str):
        raise TypeError("a share is a str")
    try:
        parsed: Share = Share.from_mnemonic(_normalise(share))
    except MnemonicError as exc:
        # The library's messages quote the first words of the share; never
        # pass them on. Classify coarsely instead.
        text = str(exc)
        if "word" in text:
            detail = "share contains a word that is not in the SLIP-39 word list"
        elif "checksum" in text:
            detail = "share checksum does not match (a word is mistyped or missing)"
        else:
            detail = "share is malformed (wrong length or padding)"
        raise InvalidInput(detail) from None
    if parsed.group_count != 1 or parsed.group_threshold != 1:
        raise InvalidInput("share uses SLIP-39 groups, which Strongroom does not create")
    return parsed


def inspect_share(share: str) -> ShareInfo:
    """Validate one share on its own (word list, RS1024 checksum) and describe it.

    Raises InvalidInput with a message that does not repeat the share.
    """
    parsed = _parse(share)
    return ShareInfo(
        identifier=parsed.identifier, threshold=parsed.member_threshold, index=parsed.index
    )


def _recover_ems(shares: Sequence[str]) -> shamir_mnemonic.EncryptedMasterSecret:
    """Interpolate the encrypted master secret; InvalidInput if the shares disagree."""
    try:
        ems: shamir_mnemonic.EncryptedMasterSecret = shamir_mnemonic.recover_ems(
            shamir_mnemonic.decode_mnemonics(shares)
        )
    except MnemonicError:
        raise InvalidInput("shares are inconsistent: they do not combine to one secret") from None
    return ems


def combine(shares: Sequence[str]) -> bytes:
    """Recover the secret from at least ``threshold`` shares of one split.

    Repeated shares count once. Extra shares beyond the threshold are checked
    against the others, so a wrong extra share is reported rather than ignored.
    Raises InvalidInput for too few, mixed or inconsistent shares.
    """
    if not shares:
        raise InvalidInput("no shares given")
    parsed: dict[str, Share] = {}
    for share in shares:
        info = _parse(share)
        parsed.setdefault(_normalise(share), info)
    first = next(iter(parsed.values()))
    if any(p.identifier != first.identifier for p in parsed.values()):
        raise InvalidInput("shares come from different splits")
    threshold = first.member_threshold
    if any(p.member_threshold != threshold for p in parsed.values()):
        raise InvalidInput("shares disagree about the threshold")
    if len({p.index for p in parsed.values()}) != len(parsed):
        raise InvalidInput("two different shares have the same index")
    if len(parsed) < threshold:
        raise InvalidInput(f"{threshold} shares are needed, {len(parsed)} given")
    mnemonics = list(parsed)
    base = mnemonics[:threshold]
    ems = _recover_ems(base)
    # Shamir's scheme interpolates the secret from any threshold points, so an
    # extra share is consistent exactly when swapping it in for a base share
    # yields the same encrypted master secret (cheap: no PBKDF2 involved).
    for extra in mnemonics[threshold:]:
        if _recover_ems([*base[: threshold - 1], extra]).ciphertext != ems.ciphertext:
            raise InvalidInput("shares are inconsistent: they do not combine to one secret")
    try:
        secret: bytes = ems.decrypt(b"")
    except (MnemonicError, ValueError):
        raise InvalidInput("shares are inconsistent: they do not combine to one secret") from None
    return secret
