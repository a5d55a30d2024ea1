"""Envelope encryption of records: a fresh DEK per record version, wrapped by a KEK or subject key.

A sealed record is two blobs, stored side by side:

* ``wrapped_dek``: the record's DEK wrapped by its :class:`~strongroom.crypto.keys.WrappingKey`
  (an ``SRwk`` blob naming the KEK version, or an ``SRws`` blob for a subject key);
* ``ciphertext``: ``b"SRct" | 0x01 | nonce(12) | AES-256-GCM(plaintext) + tag(16)``.

The payload AAD is :meth:`RecordContext.aad`: a length-prefixed canonical
encoding of the domain tag ``strongroom/record/v1``, tenant, mount, path,
version, key class and content type. Moving a ciphertext to any other record,
or swapping wrapped DEKs between records, fails authentication.

Design point: the payload AAD binds the *key class* (``"kek"`` or
``"subject:<id>"``), **not** the KEK version. The KEK version is bound in the
wrapped DEK's own AAD instead (its header). So rotating the KEK only re-wraps
the 69-byte DEK blob (:func:`rewrap`, :func:`rewrap_many`); the payload is never
re-encrypted, and a record cannot silently move between KEK-wrapped and
subject-wrapped classes (which would defeat crypto-shredding).

Nonces are 96-bit random values, the construction NIST SP 800-38D §8.2.2
allows for at most 2^32 encryptions per key; each DEK encrypts exactly one
payload, and the per-KEK wrap count is tracked by
:class:`~strongroom.crypto.keyring.EncryptionCounter`.

Example::

    >>> from strongroom.crypto.keys import KEK
    >>> kek = KEK.generate(version=1)
    >>> ctx = RecordContext(tenant="acme", mount="kv", path="db/password", version=1,
    ...                     key_class="kek", content_type="text/plain")
    >>> sealed = seal(b"hunter2", ctx, kek)
    >>> open(sealed, ctx, kek)
    b'hunter2'
    >>> SealedRecord.from_bytes(sealed.to_bytes()) == sealed
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from strongroom.crypto._encoding import FORMAT_V1, U16, U32, U64
from strongroom.crypto._primitives import (
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    aes256gcm_decrypt,
    aes256gcm_encrypt,
    random_bytes,
)
from strongroom.crypto.keyring import Keyring
from strongroom.crypto.keys import KEK, DataKey, WrappingKey, wrapped_kek_version
from strongroom.errors import DecryptionFailed

__all__ = ["RecordContext", "SealedRecord", "open", "rewrap", "rewrap_many", "seal"]

_V: Final = bytes([FORMAT_V1])
MAGIC_CIPHERTEXT: Final = b"SRct"
MAGIC_ENVELOPE: Final = b"SRen"
_CT_HEADER: Final = MAGIC_CIPHERTEXT + _V
_CT_BODY: Final = len(_CT_HEADER) + NONCE_SIZE
_ENV_HEADER: Final = MAGIC_ENVELOPE + _V
_ENV_FIXED: Final = len(_ENV_HEADER) + 2 + 4
_DOMAIN: Final = b"strongroom/record/v1"
_AAD_PREFIX: Final = U32.pack(len(_DOMAIN)) + _DOMAIN
_MAX_VERSION: Final = 2**64 - 1
_REWRAP_CHUNK: Final = 65536
_KEK_HEADER_LEN: Final = 9
_ZERO_COPY_MIN: Final = 4096

_u32 = U32.pack
_u64 = U64.pack


@dataclasses.dataclass(frozen=True, slots=True)
class RecordContext:
    """Where a record lives; bound into its payload AAD so ciphertexts cannot be moved.

    ``key_class`` is ``"kek"`` or ``"subject:<id>"`` and must equal the
    ``key_class`` of the wrapping key passed to :func:`seal`.
    """

    tenant: str
    mount: str
    path: str
    version: int
    key_class: str
    content_type: str
    _aad: bytes = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("tenant", "mount", "path", "key_class", "content_type"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"RecordContext.{name} must be str")
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise TypeError("RecordContext.version must be int")
        if not 0 <= self.version <= _MAX_VERSION:
            raise ValueError("RecordContext.version must fit in an unsigned 64-bit int")
        # Computed once here, so a context is validated at construction (a
        # string that is not valid UTF-8, a lone surrogate, fails now) and
        # sealing and opening pay nothing for the AAD.
        t = self.tenant.encode()
        m = self.mount.encode()
        p = self.path.encode()
        k = self.key_class.encode()
        c = self.content_type.encode()
        aad = b"".join(
            (
                _AAD_PREFIX,
                _u32(len(t)),
                t,
                _u32(len(m)),
                m,
                _u32(len(p)),
                p,
                _u64(self.version),
                _u32(len(k)),
                k,
                _u32(len(c)),
                c,
            )
        )
        object.__setattr__(self, "_aad", aad)

    def aad(self) -> bytes:
        """Return the canonical AAD: every field length-prefixed (u32 BE), version as u64 BE."""
        return self._aad


@dataclasses.dataclass(frozen=True, slots=True)
class SealedRecord:
    """A sealed record: the wrapped DEK and the payload ciphertext, both versioned blobs."""

    wrapped_dek: bytes
    ciphertext: bytes

    def to_bytes(self) -> bytes:
        """Return one self-contained ``SRen`` envelope for exports and backups.

        Layout: ``b"SRen" | 0x01 | len(wrapped_dek) u16 | len(ciphertext) u32``
        followed by ``wrapped_dek`` and ``ciphertext``.
        """
        return b"".join(
            (
                _ENV_HEADER,
                U16.pack(len(self.wrapped_dek)),
                _u32(len(self.ciphertext)),
                self.wrapped_dek,
                self.ciphertext,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedRecord:
        """Parse an ``SRen`` envelope; a malformed one raises DecryptionFailed."""
        if len(data) < _ENV_FIXED or data[:5] != _ENV_HEADER:
            raise DecryptionFailed() from None
        wrapped_len = U16.unpack_from(data, 5)[0]
        ct_len = U32.unpack_from(data, 7)[0]
        if len(data) != _ENV_FIXED + wrapped_len + ct_len:
            raise DecryptionFailed() from None
        split = _ENV_FIXED + wrapped_len
        return cls(wrapped_dek=bytes(data[_ENV_FIXED:split]), ciphertext=bytes(data[split:]))


def seal(
    plaintext: bytes,
    context: RecordContext,
    key: WrappingKey,
    *,
    dek: DataKey | None = None,
    nonce: bytes | None = None,
    wrap_nonce: bytes | None = None,
) -> SealedRecord:
    """Encrypt ``plaintext`` for ``context`` under a fresh DEK wrapped by ``key``.

    ``dek``, ``nonce`` and ``wrap_nonce`` exist only for known-answer tests;
    production callers leave them unset so each is fresh randomness.
    Raises ``ValueError`` if ``context.key_class`` is not ``key.key_class``.
    """
    if context.key_class != key.key_class:
        raise ValueError("context.key_class does not match the wrapping key")
    if dek is None and nonce is None and wrap_nonce is None:
        # One getrandom call for DEK, payload nonce and wrap nonce: the three
        # are independent uniform bytes either way, and syscalls dominate the
        # cost of sealing small records.
        fresh = random_bytes(KEY_SIZE + 2 * NONCE_SIZE)
        dek_bytes = fresh[:KEY_SIZE]
        nonce = fresh[KEY_SIZE : KEY_SIZE + NONCE_SIZE]
        wrap_nonce = fresh[KEY_SIZE + NONCE_SIZE :]
        dek = DataKey(dek_bytes)
    else:
        if dek is None:
            dek = DataKey.generate()
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        if len(nonce) != NONCE_SIZE:
            raise ValueError("nonce must be 12 bytes")
        dek_bytes = dek.secret_bytes()
    body = aes256gcm_encrypt(dek_bytes, nonce, plaintext, context._aad)
    return SealedRecord(key.wrap(dek, nonce=wrap_nonce), _CT_HEADER + nonce + body)


def open(sealed: SealedRecord, context: RecordContext, key: WrappingKey) -> bytes:
    """Return the plaintext of ``sealed`` for ``context``.

    Every failure (bad magic, unknown format version, wrong key, wrong
    context, truncation, tampering) raises the one opaque DecryptionFailed.
    """
    ct = sealed.ciphertext
    if len(ct) < _CT_BODY + TAG_SIZE or ct[:5] != _CT_HEADER or context.key_class != key.key_class:
        raise DecryptionFailed() from None
    dek = key.unwrap(sealed.wrapped_dek)
    # Slicing bytes copies; a memoryview does not but costs more to set up,
    # so it only pays for large payloads.
    buf: bytes | memoryview = memoryview(ct) if len(ct) > _ZERO_COPY_MIN else ct
    return aes256gcm_decrypt(dek.secret_bytes(), buf[5:_CT_BODY], buf[_CT_BODY:], context._aad)


def rewrap(wrapped_dek: bytes, *, old: KEK, new: KEK) -> bytes:
    """Re-wrap a KEK-wrapped DEK (or subject key) from ``old`` to ``new``; the payload is untouched.

    Raises DecryptionFailed if ``wrapped_dek`` was not written by ``old``.
    """
    return old.rewrap(wrapped_dek, to=new)


def rewrap_many(blobs: Sequence[bytes], keyring: Keyring) -> list[bytes]:
    """Re-wrap KEK-wrapped blobs under ``keyring``'s current KEK, in order.

    Blobs already under the current version are returned as they are (not
    even authenticated), so a batch can be re-run after a crash (idempotent,
    resumable). Each blob's
    old KEK comes from ``keyring.get`` (KeyUnavailable if retired or missing);
    a damaged blob raises DecryptionFailed for the whole batch. The caller
    counts ``len(blobs)`` encryptions against the current KEK.
    """
    new = keyring.current_kek
    current = new.version
    out: list[bytes] = []
    append = out.append
    # Old KEKs by the first 9 bytes of the blobs they wrote (magic, format,
    # KEK version); None marks the current version, whose blobs pass through.
    olds: dict[bytes, KEK | None] = {}
    n = len(blobs)
    for start in range(0, n, _REWRAP_CHUNK):
        chunk = blobs[start : start + _REWRAP_CHUNK]
        # One getrandom call per chunk instead of one per blob.
        nonces = random_bytes(NONCE_SIZE * len(chunk))
        offset = 0
        for blob in chunk:
            head = blob[:_KEK_HEADER_LEN]
            try:
                old = olds[head]
            except KeyError:
                version = wrapped_kek_version(blob)
                old = olds[head] = None if version == current else keyring.get(version)
            if old is None:
                append(blob)
            else:
                append(old.rewrap(blob, to=new, nonce=nonces[offset : offset + NONCE_SIZE]))
            offset += NONCE_SIZE
    return out
