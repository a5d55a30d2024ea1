"""Protect the root key with a passphrase: Argon2id, then AES-256-GCM.

The blob is self-describing, so the cost parameters can be raised later
without breaking old blobs::

    b"SRpp" | 0x01 | kdf id (1 = Argon2id) | time_cost u32 | memory_cost KiB u32
           | parallelism u16 | salt length u8 | salt | nonce(12) | AES-256-GCM(root key) + tag(16)

Everything before the nonce is the AAD, so the parameters and salt cannot be
swapped for weaker ones. The passphrase is normalised to Unicode NFC first
(RFC 8265 §4.2, the OpaqueString profile) so the same passphrase typed on
different systems derives the same key. A wrong passphrase, like any other
failure, raises :class:`~strongroom.errors.DecryptionFailed`.

Example::

    >>> from strongroom.crypto.keys import RootKey
    >>> root = RootKey.generate()
    >>> blob = protect(root, "correct horse battery staple", params=Argon2Params.unsafe_for_tests())
    >>> recover(blob, "correct horse battery staple") == root
    True
"""

from __future__ import annotations

import logging
import struct
import unicodedata
from dataclasses import dataclass
from typing import Final

from strongroom.crypto._encoding import FORMAT_V1
from strongroom.crypto._primitives import (
    AES256GCM,
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    argon2id,
    random_bytes,
)
from strongroom.crypto.keys import RootKey
from strongroom.errors import DecryptionFailed, InvalidInput

__all__ = ["Argon2Params", "protect", "recover"]

_log = logging.getLogger(__name__)

MAGIC_PASSPHRASE: Final = b"SRpp"
_KDF_ARGON2ID: Final = 1
_HEADER: Final = struct.Struct(">4sBBIIHB")
_MAX_PASSPHRASE_BYTES: Final = 4096


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost parameters (RFC 9106 §4); the defaults follow its second recommended option.

    ``memory_cost_kib`` is in KiB (65536 = 64 MiB). Bounds keep a stored blob
    from demanding unbounded memory or time at unseal.
    """

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 2
    salt_len: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.parallelism <= 64:
            raise ValueError("parallelism must be 1..64")
        if not 1 <= self.time_cost <= 64:
            raise ValueError("time_cost must be 1..64")
        if not 8 * self.parallelism <= self.memory_cost_kib <= 4 * 1024 * 1024:
            raise ValueError("memory_cost_kib must be 8*parallelism..4 GiB")
        if not 16 <= self.salt_len <= 64:
            raise ValueError("salt_len must be 16..64")

    @classmethod
    def unsafe_for_tests(cls) -> Argon2Params:
        """Return deliberately weak, fast parameters for tests. Never use them for real data."""
        _log.warning("UNSAFE Argon2id parameters in use: for tests only")
        return cls(time_cost=1, memory_cost_kib=8, parallelism=1)


def _normalise(passphrase: str) -> bytes:
    """Return the NFC-normalised UTF-8 passphrase; InvalidInput if empty or too long."""
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be str")
    encoded = unicodedata.normalize("NFC", passphrase).encode()
    if not encoded:
        raise InvalidInput("passphrase must not be empty")
    if len(encoded) > _MAX_PASSPHRASE_BYTES:
        raise InvalidInput(f"passphrase must be at most {_MAX_PASSPHRASE_BYTES} bytes")
    return encoded


def protect(
    root: RootKey,
    passphrase: str,
    *,
    params: Argon2Params | None = None,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Return an ``SRpp`` blob holding ``root`` encrypted under a key derived from ``passphrase``.

    ``salt`` and ``nonce`` exist for known-answer tests; leave them unset.
    """
    params = params or Argon2Params()
    secret = _normalise(passphrase)
    salt = salt if salt is not None else random_bytes(params.salt_len)
    if len(salt) != params.salt_len:
        raise ValueError("salt length must equal params.salt_len")
    nonce = nonce if nonce is not None else random_bytes(NONCE_SIZE)
    header = _HEADER.pack(
        MAGIC_PASSPHRASE,
        FORMAT_V1,
        _KDF_ARGON2ID,
        params.time_cost,
        params.memory_cost_kib,
        params.parallelism,
        params.salt_len,
    )
    aad = header + salt
    kek = argon2id(
        secret,
        salt=salt,
        time_cost=params.time_cost,
        memory_cost_kib=params.memory_cost_kib,
        parallelism=params.parallelism,
    )
    return aad + nonce + AES256GCM(kek).encrypt(nonce, root.secret_bytes(), aad)


def recover(blob: bytes, passphrase: str) -> RootKey:
    """Return the root key in an ``SRpp`` blob.

    A wrong passphrase and any damage to the blob both raise DecryptionFailed.
    """
    secret = _normalise(passphrase)
    if len(blob) < _HEADER.size:
        raise DecryptionFailed() from None
    magic, version, kdf, time_cost, memory_cost_kib, parallelism, salt_len = _HEADER.unpack_from(
        blob
    )
    if magic != MAGIC_PASSPHRASE or version != FORMAT_V1 or kdf != _KDF_ARGON2ID:
        raise DecryptionFailed() from None
    try:
        params = Argon2Params(time_cost, memory_cost_kib, parallelism, salt_len)
    except ValueError:
        # Out-of-bounds costs in a stored blob are damage (or a DoS attempt).
        raise DecryptionFailed() from None
    aad_len = _HEADER.size + salt_len
    if len(blob) != aad_len + NONCE_SIZE + KEY_SIZE + TAG_SIZE:
        raise DecryptionFailed() from None
    aad = bytes(blob[:aad_len])
    kek = argon2id(
        secret,
        salt=aad[_HEADER.size :],
        time_cost=params.time_cost,
        memory_cost_kib=params.memory_cost_kib,
        parallelism=params.parallelism,
    )
    key = AES256GCM(kek).decrypt(
        blob[aad_len : aad_len + NONCE_SIZE], blob[aad_len + NONCE_SIZE :], aad
    )
    return RootKey(key)
