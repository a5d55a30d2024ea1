"""Key value objects of the hierarchy root key → KEK versions → DEKs / subject keys.

Every key masks its material in ``repr``/``str``; :meth:`secret_bytes` is the
one, greppable way to read it. Wrapped-key blobs are self-describing::

    magic(4) | format version(1) | header fields | nonce(12) | AES-256-GCM(key) + tag(16)

=========  ==========================  ===============================================
magic      contents, wrapped by        header fields (all bound as AAD)
=========  ==========================  ===============================================
``SRwk``   DEK, by a KEK               KEK version (u32 BE)
``SRsk``   subject key, by a KEK       KEK version (u32 BE), subject id (u16 len + UTF-8)
``SRws``   DEK, by a subject key       none; the subject id is appended to the AAD
``SRrk``   KEK, by the root key        KEK version (u32 BE)
``SRcv``   check constant, by root     none
=========  ==========================  ===============================================

The header is the AAD, so the magic (the wrap purpose) and the identity of the
wrapping key cannot be changed without failing authentication. KEK-wrapped
blobs name their KEK version in clear (:func:`wrapped_kek_version`) so a
rotation job can find them without decrypting.

Example::

    >>> root = RootKey.generate()
    >>> kek = KEK.generate(version=1)
    >>> root.unwrap_kek(1, root.wrap_kek(kek)) == kek
    True
    >>> dek = DataKey.generate()
    >>> kek.unwrap(kek.wrap(dek)) == dek
    True
    >>> kek
    KEK(version=1, key=<redacted>)
"""

from __future__ import annotations

import enum
import re
from typing import Final, NoReturn, Protocol, Self, runtime_checkable

from strongroom.crypto._encoding import FORMAT_V1, U16, U32, lp16
from strongroom.crypto._primitives import (
    AES256GCM,
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    constant_time_equal,
    hkdf_sha256,
    hmac_sha256,
    random_bytes,
)
from strongroom.errors import DecryptionFailed

__all__ = [
    "KEK",
    "DataKey",
    "KeyPurpose",
    "RootKey",
    "SubjectKey",
    "WrappingKey",
    "wrapped_kek_version",
]

_V: Final = bytes([FORMAT_V1])
MAGIC_DEK_BY_KEK: Final = b"SRwk"
MAGIC_SUBJECT_BY_KEK: Final = b"SRsk"
MAGIC_DEK_BY_SUBJECT: Final = b"SRws"
MAGIC_KEK_BY_ROOT: Final = b"SRrk"
MAGIC_CHECK_VALUE: Final = b"SRcv"

_KEK_HEADER_LEN: Final = 4 + 1 + 4
_KEK_BODY: Final = _KEK_HEADER_LEN + NONCE_SIZE
# An SRwk (DEK by KEK) or SRrk (KEK by root) blob: 9-byte header, nonce, 32-byte key, tag.
_WRAPPED_LEN: Final = _KEK_HEADER_LEN + NONCE_SIZE + KEY_SIZE + TAG_SIZE
_SUBJECT__WRAPPED_LEN: Final = 5 + NONCE_SIZE + KEY_SIZE + TAG_SIZE
_MAX_KEK_VERSION: Final = 2**32 - 1
_MAX_SUBJECT_ID_BYTES: Final = 1024
_PSEUDONYM_DOMAIN: Final = b"strongroom/audit-pseudonym/v1"
_CHECK_CONSTANT: Final = b"strongroom root key check value v1"
_PURPOSE_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")


class KeyPurpose(enum.StrEnum):
    """Well-known purposes of keys derived from the root key (HKDF ``info`` labels)."""

    TOKEN_HMAC = "token-hmac"  # noqa: S105 - a label, not a secret
    BLIND_INDEX = "blind-index"
    AUDIT_HMAC = "audit-hmac"
    IP_HMAC = "ip-hmac"


class _SecretKey:
    """Base of the key objects: 32 secret bytes, masked in repr, compared in constant time."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes):
            raise TypeError("key material must be bytes")
        if len(key) != KEY_SIZE:
            raise ValueError("key material must be 32 bytes")
        self._key = key

    def secret_bytes(self) -> bytes:
        """Return the raw key material. Never log, print or persist it in clear."""
        return self._key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key=<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _SecretKey) or type(other) is not type(self):
            return NotImplemented
        return self._identity() == other._identity() and constant_time_equal(self._key, other._key)

    # Unhashable: a hash of key material is a needless side channel, and keys
    # have no business being dict keys or set members.
    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> NoReturn:
        # Refuse pickling so key material cannot end up in a cache or queue by accident.
        raise TypeError(f"{type(self).__name__} cannot be pickled")

    def _identity(self) -> object:
        """The non-secret part of equality (KEK version, subject id); none for plain keys."""
        return None


@runtime_checkable
class WrappingKey(Protocol):
    """Anything that wraps per-record DEKs: a :class:`KEK`, a :class:`SubjectKey`, a keyring.

    ``key_class`` is bound into the record AAD (see :mod:`strongroom.crypto.envelope`):
    ``"kek"`` for KEK-wrapped records, ``"subject:<id>"`` for subject-wrapped ones.
    """

    @property
    def key_class(self) -> str:
        """The string bound into the payload AAD of records wrapped by this key."""
        ...

    def wrap(self, dek: DataKey, *, nonce: bytes | None = None) -> bytes:
        """Return the wrapped-DEK blob; ``nonce`` is only for known-answer tests."""
        ...

    def unwrap(self, blob: bytes) -> DataKey:
        """Return the DEK in ``blob`` or raise :class:`~strongroom.errors.DecryptionFailed`."""
        ...


class DataKey(_SecretKey):
    """A fresh 256-bit data-encryption key (DEK), one per record version."""

    __slots__ = ()

    @classmethod
    def generate(cls) -> Self:
        """Return a new random DEK."""
        return cls(random_bytes(KEY_SIZE))


class KEK(_SecretKey):
    """A key-encryption key version. It wraps DEKs and subject keys, never payloads."""

    __slots__ = ("_aead", "_dek_header", "_version")

    def __init__(self, key: bytes, *, version: int) -> None:
        super().__init__(key)
        if not 1 <= version <= _MAX_KEK_VERSION:
            raise ValueError("KEK version must be in 1..2**32-1")
        self._version = version
        self._aead = AES256GCM(key)
        self._dek_header = dek_blob_prefix(version)

    @classmethod
    def generate(cls, *, version: int) -> Self:
        """Return a new random KEK with the given version number."""
        return cls(random_bytes(KEY_SIZE), version=version)

    @property
    def version(self) -> int:
        """The KEK version number (bound into every blob it wraps)."""
        return self._version

    @property
    def key_class(self) -> str:
        """Always ``"kek"``: the payload AAD names the key class, not the KEK version."""
        return "kek"

    def __repr__(self) -> str:
        return f"KEK(version={self._version}, key=<redacted>)"

    __str__ = __repr__

    def _identity(self) -> object:
        """Two KEKs are equal only with the same version."""
        return self._version

    def wrap(self, dek: DataKey, *, nonce: bytes | None = None) -> bytes:
        """Wrap a DEK into an ``SRwk`` blob (69 bytes) under a fresh random nonce."""
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        header = self._dek_header
        return header + nonce + self._aead.encrypt(nonce, dek._key, header)

    def unwrap(self, blob: bytes) -> DataKey:
        """Unwrap an ``SRwk`` blob written by this KEK version, or raise DecryptionFailed."""
        header = self._dek_header
        if len(blob) != _WRAPPED_LEN or blob[:_KEK_HEADER_LEN] != header:
            raise DecryptionFailed() from None
        return DataKey(
            self._aead.decrypt(blob[_KEK_HEADER_LEN:_KEK_BODY], blob[_KEK_BODY:], header)
        )

    def rewrap(self, blob: bytes, *, to: KEK, nonce: bytes | None = None) -> bytes:
        """Re-wrap an ``SRwk`` or ``SRsk`` blob of this KEK version under KEK ``to``.

        Every header field but the KEK version is kept, so a subject key stays
        bound to its subject id. Raises DecryptionFailed if ``blob`` was not
        written by this KEK version or was altered.
        """
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        if len(blob) == _WRAPPED_LEN and blob[:_KEK_HEADER_LEN] == self._dek_header:
            # Fast path for the common case, a wrapped DEK (one per record version).
            n, header, new_header = _KEK_HEADER_LEN, self._dek_header, to._dek_header
        else:
            n = _kek_blob_header_len(blob)
            header = bytes(blob[:n])
            if U32.unpack_from(header, 5)[0] != self._version:
                raise DecryptionFailed() from None
            new_header = header[:5] + U32.pack(to._version) + header[_KEK_HEADER_LEN:]
        body = self._aead.reencrypt(
            blob[n : n + NONCE_SIZE],
            blob[n + NONCE_SIZE :],
            header,
            to=to._aead,
            new_nonce=nonce,
            new_aad=new_header,
        )
        return new_header + nonce + body

    def wrap_subject_key(self, key: SubjectKey, *, nonce: bytes | None = None) -> bytes:
        """Wrap a subject key into an ``SRsk`` blob bound to its subject id and this version."""
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        header = MAGIC_SUBJECT_BY_KEK + _V + U32.pack(self._version) + lp16(key.subject_id.encode())
        return header + nonce + self._aead.encrypt(nonce, key._key, header)

    def unwrap_subject_key(self, blob: bytes, *, subject_id: str) -> SubjectKey:
        """Unwrap an ``SRsk`` blob for ``subject_id``, or raise DecryptionFailed."""
        encoded = subject_id.encode()
        if not 0 < len(encoded) <= _MAX_SUBJECT_ID_BYTES:
            raise DecryptionFailed() from None
        expected = MAGIC_SUBJECT_BY_KEK + _V + U32.pack(self._version) + lp16(encoded)
        n = len(expected)
        if len(blob) != n + NONCE_SIZE + KEY_SIZE + TAG_SIZE or blob[:n] != expected:
            raise DecryptionFailed() from None
        key = self._aead.decrypt(blob[n : n + NONCE_SIZE], blob[n + NONCE_SIZE :], expected)
        return SubjectKey(key, subject_id=subject_id)


class SubjectKey(_SecretKey):
    """A data subject's key: records about the subject are wrapped by it.

    Destroying every wrapped copy of it crypto-shreds the subject's records.
    """

    __slots__ = ("_aad_suffix", "_aead", "_key_class", "_subject_id")

    def __init__(self, key: bytes, *, subject_id: str) -> None:
        super().__init__(key)
        encoded = subject_id.encode()
        if not 0 < len(encoded) <= _MAX_SUBJECT_ID_BYTES:
            raise ValueError("subject id must be 1..1024 UTF-8 bytes")
        self._subject_id = subject_id
        self._key_class = "subject:" + subject_id
        self._aead = AES256GCM(key)
        self._aad_suffix = MAGIC_DEK_BY_SUBJECT + _V + lp16(encoded)

    @classmethod
    def generate(cls, *, subject_id: str) -> Self:
        """Return a new random key for ``subject_id``."""
        return cls(random_bytes(KEY_SIZE), subject_id=subject_id)

    @property
    def subject_id(self) -> str:
        """The pseudonymous subject reference this key belongs to."""
        return self._subject_id

    @property
    def key_class(self) -> str:
        """``"subject:<id>"``, bound into the payload AAD of this subject's records."""
        return self._key_class

    def audit_pseudonym(self) -> str:
        """The subject's name in the audit log: ``sp1_`` and 32 hex digits.

        HMAC-SHA256 under this key, so the log's entries about the subject can
        be found while the key exists, and by nobody once it is destroyed
        (erasure); the plain subject id never goes in the log.
        """
        label = _PSEUDONYM_DOMAIN + lp16(self._subject_id.encode())
        mac = hmac_sha256(self.secret_bytes(), label)
        return "sp1_" + mac[:16].hex()

    def __repr__(self) -> str:
        return f"SubjectKey(subject_id={self._subject_id!r}, key=<redacted>)"

    __str__ = __repr__

    def _identity(self) -> object:
        """Two subject keys are equal only for the same subject."""
        return self._subject_id

    def wrap(self, dek: DataKey, *, nonce: bytes | None = None) -> bytes:
        """Wrap a DEK into an ``SRws`` blob (65 bytes) bound to this subject id."""
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        return (
            MAGIC_DEK_BY_SUBJECT
            + _V
            + nonce
            + self._aead.encrypt(nonce, dek._key, self._aad_suffix)
        )

    def unwrap(self, blob: bytes) -> DataKey:
        """Unwrap an ``SRws`` blob written by this subject key, or raise DecryptionFailed."""
        if len(blob) != _SUBJECT__WRAPPED_LEN or blob[:5] != MAGIC_DEK_BY_SUBJECT + _V:
            raise DecryptionFailed() from None
        plain = self._aead.decrypt(
            blob[5 : 5 + NONCE_SIZE], blob[5 + NONCE_SIZE :], self._aad_suffix
        )
        return DataKey(plain)


class RootKey(_SecretKey):
    """The root of the hierarchy: wraps KEK versions and derives purpose keys.

    The root key itself is never used directly as an AES key: a wrapping key
    and the purpose keys are all HKDF outputs with distinct ``info`` labels
    (RFC 5869 §3.2), so no two uses share a key.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self._aead = AES256GCM(hkdf_sha256(key, info=b"strongroom/root/v1/wrap"))

    @classmethod
    def generate(cls) -> Self:
        """Return a new random root key."""
        return cls(random_bytes(KEY_SIZE))

    def derive(self, purpose: str) -> bytes:
        """Return a 32-byte key for ``purpose`` (see :class:`KeyPurpose`), stable per root key.

        ``purpose`` is a short lowercase label (``[a-z0-9][a-z0-9.-]*``).
        """
        if not _PURPOSE_RE.fullmatch(purpose):
            raise ValueError("purpose must match [a-z0-9][a-z0-9.-]{0,63}")
        return hkdf_sha256(self._key, info=b"strongroom/root/v1/derive/" + purpose.encode())

    def wrap_kek(self, kek: KEK, *, nonce: bytes | None = None) -> bytes:
        """Wrap a KEK into an ``SRrk`` blob bound to its version."""
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        header = MAGIC_KEK_BY_ROOT + _V + U32.pack(kek.version)
        return header + nonce + self._aead.encrypt(nonce, kek._key, header)

    def unwrap_kek(self, version: int, blob: bytes) -> KEK:
        """Unwrap the ``SRrk`` blob of KEK ``version``, or raise DecryptionFailed."""
        if not 1 <= version <= _MAX_KEK_VERSION:
            raise DecryptionFailed() from None
        header = MAGIC_KEK_BY_ROOT + _V + U32.pack(version)
        if len(blob) != _WRAPPED_LEN or blob[:_KEK_HEADER_LEN] != header:
            raise DecryptionFailed() from None
        key = self._aead.decrypt(blob[_KEK_HEADER_LEN:_KEK_BODY], blob[_KEK_BODY:], header)
        return KEK(key, version=version)

    def check_value(self, *, nonce: bytes | None = None) -> bytes:
        """Return an ``SRcv`` blob: a known constant encrypted under this root key.

        Stored in the seal configuration so a wrong root key (wrong shares,
        wrong passphrase) is detected at unseal, before anything else is tried.
        """
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        header = MAGIC_CHECK_VALUE + _V
        return header + nonce + self._aead.encrypt(nonce, _CHECK_CONSTANT, header)

    def verify_check_value(self, blob: bytes) -> None:
        """Raise DecryptionFailed unless ``blob`` was made by :meth:`check_value` of this key."""
        header = MAGIC_CHECK_VALUE + _V
        if blob[:5] != header or len(blob) != 5 + NONCE_SIZE + len(_CHECK_CONSTANT) + TAG_SIZE:
            raise DecryptionFailed() from None
        plain = self._aead.decrypt(blob[5:17], blob[17:], header)
        if not constant_time_equal(plain, _CHECK_CONSTANT):
            raise DecryptionFailed() from None


def dek_blob_prefix(version: int) -> bytes:
    """Return the 9-byte header every ``SRwk`` blob of KEK ``version`` starts with."""
    return MAGIC_DEK_BY_KEK + _V + U32.pack(version)


def wrapped_kek_version(blob: bytes) -> int:
    """Return the KEK version named in an ``SRwk``/``SRsk`` blob header, without decrypting.

    Raises DecryptionFailed if ``blob`` is not a KEK-wrapped blob. The version
    is authenticated only when the blob is unwrapped.
    """
    if len(blob) < _KEK_HEADER_LEN + NONCE_SIZE + KEY_SIZE + TAG_SIZE or blob[4] != FORMAT_V1:
        raise DecryptionFailed() from None
    if blob[:4] not in (MAGIC_DEK_BY_KEK, MAGIC_SUBJECT_BY_KEK):
        raise DecryptionFailed() from None
    version: int = U32.unpack_from(blob, 5)[0]
    return version


def _kek_blob_header_len(blob: bytes) -> int:
    """Return the header (AAD) length of an ``SRwk``/``SRsk`` blob, or raise DecryptionFailed."""
    magic = blob[:4]
    if magic == MAGIC_DEK_BY_KEK:
        n = _KEK_HEADER_LEN
    elif magic == MAGIC_SUBJECT_BY_KEK and len(blob) >= _KEK_HEADER_LEN + 2:
        n = _KEK_HEADER_LEN + 2 + U16.unpack_from(blob, _KEK_HEADER_LEN)[0]
    else:
        raise DecryptionFailed() from None
    if blob[4] != FORMAT_V1 or len(blob) != n + NONCE_SIZE + KEY_SIZE + TAG_SIZE:
        raise DecryptionFailed() from None
    return n
