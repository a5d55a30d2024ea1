"""The backup key: chunk ids that dedup without an oracle, and sealed chunks.

A :class:`BackupKey` is 32 secret bytes with the conventions of every key
object here: masked ``repr``, no pickling, constant-time equality. The key is
never used directly; three subkeys are HKDF outputs with distinct ``info``
labels (RFC 5869 §3.2), ``b"strongroom/backup/v1/" + label``:

=====================  =============================================================
label                  use
=====================  =============================================================
``backup-chunk-id``    HMAC-SHA256 key of :meth:`BackupKey.chunk_id`
``backup-chunk-seal``  AES-256-GCM key of :meth:`BackupKey.seal` and :meth:`BackupKey.open`
``backup-key-id``      :attr:`BackupKey.key_id`, a public name for the key
=====================  =============================================================

A chunk id is a keyed HMAC of the plaintext, not a plain hash: identical
plaintext still gets the same id (so it is stored once), but a storage
provider who guesses a plaintext cannot confirm the guess by hashing it.

Blob formats (the header is always the AAD, so it cannot be changed)::

    sealed chunk  "SRbk" | 0x01 | nonce(12) | AES-256-GCM(chunk) + tag(16)
                  AAD = "SRbk" | 0x01 | chunk id (64 ASCII hex digits)
    wrapped key   "SRbw" | 0x01 | KEK version (u32 BE) | nonce(12) | AES-256-GCM(key) + tag(16)
                  AAD = the 9-byte header
    sealed object "SRbo" | 0x01 | nonce(12) | AES-256-GCM(data) + tag(16)
                  AAD = "SRbo" | 0x01 | object name (UTF-8)

A sealed object is a small repository object that is not chunked (the
subject-key backups): its own magic keeps it apart from chunks, and its
name in the AAD keeps it from being moved to another name.

Binding the chunk id into the AAD means a stored chunk cannot be swapped for
another chunk of the same repository. The wrapped key has its own magic
rather than reusing a KEK-wrapped DEK (``SRwk``) so that a backup key and a
record DEK can never be mistaken for each other (domain separation), and it
names its KEK version in clear, like ``SRwk``. Every failure to open or unwrap
is the one opaque :class:`~strongroom.errors.DecryptionFailed`.

Each seal draws a random 96-bit nonce, so one backup key should seal fewer
than 2**32 chunks (NIST SP 800-38D §8.3); at 1 MiB per chunk that is 4 PiB of
distinct data.

Example::

    >>> from strongroom.crypto import KEK, BackupKey
    >>> key = BackupKey.generate()
    >>> cid = key.chunk_id(b"ledger page")
    >>> cid == key.chunk_id(b"ledger page"), len(cid)
    (True, 64)
    >>> key.open(key.seal(b"ledger page", chunk_id=cid), chunk_id=cid)
    b'ledger page'
    >>> kek = KEK.generate(version=3)
    >>> blob = key.wrap_with(kek)
    >>> BackupKey.wrapped_kek_version(blob)
    3
    >>> BackupKey.unwrap_with(kek, blob) == key
    True
    >>> key  # doctest: +ELLIPSIS
    BackupKey(key_id='...', key=<redacted>)
"""

from __future__ import annotations

import re
from typing import Final, Self

from strongroom.crypto._encoding import FORMAT_V1, U32
from strongroom.crypto._primitives import (
    AES256GCM,
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    hkdf_sha256,
    hmac_sha256,
    random_bytes,
)
from strongroom.crypto.keys import KEK, _SecretKey
from strongroom.errors import DecryptionFailed

__all__ = ["BackupKey"]

MAGIC_BACKUP_CHUNK: Final = b"SRbk"
"""Magic of a chunk sealed by a backup key."""

MAGIC_BACKUP_KEY_BY_KEK: Final = b"SRbw"
"""Magic of a backup key wrapped by a KEK."""
MAGIC_BACKUP_OBJECT: Final = b"SRbo"
"""Magic of a whole repository object sealed by a backup key."""

_CHUNK_HEADER: Final = MAGIC_BACKUP_CHUNK + bytes([FORMAT_V1])
_OBJECT_HEADER: Final = MAGIC_BACKUP_OBJECT + bytes([FORMAT_V1])
_OBJECT_BODY: Final = len(_OBJECT_HEADER) + NONCE_SIZE
_CHUNK_BODY: Final = len(_CHUNK_HEADER) + NONCE_SIZE
_WRAP_HEADER_LEN: Final = 4 + 1 + 4
_WRAP_BODY: Final = _WRAP_HEADER_LEN + NONCE_SIZE
_WRAPPED_LEN: Final = _WRAP_BODY + KEY_SIZE + TAG_SIZE
_INFO_PREFIX: Final = b"strongroom/backup/v1/"
_CHUNK_ID_RE: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID_BYTES: Final = 16


class BackupKey(_SecretKey):
    """The key of one backup repository: names chunks by keyed HMAC and seals them.

    Construct from 32 bytes, or :meth:`generate` a new one; store it only
    wrapped by a KEK (:meth:`wrap_with`).
    """

    __slots__ = ("_aead", "_id_key", "_key_id")

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self._id_key = hkdf_sha256(key, info=_INFO_PREFIX + b"backup-chunk-id")
        self._aead = AES256GCM(hkdf_sha256(key, info=_INFO_PREFIX + b"backup-chunk-seal"))
        self._key_id = hkdf_sha256(
            key, info=_INFO_PREFIX + b"backup-key-id", length=_KEY_ID_BYTES
        ).hex()

    @classmethod
    def generate(cls) -> Self:
        """Return a new random backup key (from the OS CSPRNG)."""
        return cls(random_bytes(KEY_SIZE))

    @property
    def key_id(self) -> str:
        """A public, stable name for this key: 32 hex digits derived by HKDF.

        Safe to store in clear; it reveals nothing about the key (RFC 5869
        outputs for distinct ``info`` are independent).
        """
        return self._key_id

    def __repr__(self) -> str:
        return f"BackupKey(key_id={self._key_id!r}, key=<redacted>)"

    __str__ = __repr__

    def chunk_id(self, plaintext: bytes) -> str:
        """Return the chunk id of ``plaintext``: hex HMAC-SHA256 under the chunk-id subkey."""
        if not isinstance(plaintext, bytes):
            raise TypeError("plaintext must be bytes")
        return hmac_sha256(self._id_key, plaintext).hex()

    def seal(self, data: bytes, *, chunk_id: str, nonce: bytes | None = None) -> bytes:
        """Encrypt ``data`` into an ``SRbk`` blob bound to ``chunk_id``.

        ``chunk_id`` must be 64 lowercase hex digits (normally
        ``chunk_id(plaintext)``, with ``data`` the compressed plaintext).
        ``nonce`` is only for known-answer tests.
        """
        if not isinstance(data, bytes):
            raise TypeError("data must be bytes")
        aad = _chunk_aad(chunk_id)
        if aad is None:
            raise ValueError("chunk_id must be 64 lowercase hex digits")
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        elif len(nonce) != NONCE_SIZE:
            raise ValueError("nonce must be 12 bytes")
        return _CHUNK_HEADER + nonce + self._aead.encrypt(nonce, data, aad)

    def open(self, blob: bytes, *, chunk_id: str) -> bytes:
        """Return the data sealed in ``blob`` for ``chunk_id``, or raise DecryptionFailed.

        A wrong key, a wrong chunk id, a truncated, altered or unknown-version
        blob all raise the same opaque :class:`~strongroom.errors.DecryptionFailed`.
        """
        if not isinstance(blob, bytes):
            raise DecryptionFailed() from None
        aad = _chunk_aad(chunk_id)
        if (
            aad is None
            or len(blob) < _CHUNK_BODY + TAG_SIZE
            or blob[: len(_CHUNK_HEADER)] != _CHUNK_HEADER
        ):
            raise DecryptionFailed() from None
        view = memoryview(blob)
        return self._aead.decrypt(view[len(_CHUNK_HEADER) : _CHUNK_BODY], view[_CHUNK_BODY:], aad)

    def seal_object(self, data: bytes, *, name: str) -> bytes:
        """Encrypt ``data`` into an ``SRbo`` blob bound to the object ``name``."""
        if not name:
            raise ValueError("an object needs a name")
        nonce = random_bytes(NONCE_SIZE)
        aad = _OBJECT_HEADER + name.encode()
        return _OBJECT_HEADER + nonce + self._aead.encrypt(nonce, data, aad)

    def open_object(self, blob: bytes, *, name: str) -> bytes:
        """The data sealed in ``blob`` under ``name``, or DecryptionFailed (any other key, name,
        alteration)."""
        if len(blob) < _OBJECT_BODY + TAG_SIZE or blob[: len(_OBJECT_HEADER)] != _OBJECT_HEADER:
            raise DecryptionFailed() from None
        view = memoryview(blob)
        aad = _OBJECT_HEADER + name.encode()
        return self._aead.decrypt(
            view[len(_OBJECT_HEADER) : _OBJECT_BODY], view[_OBJECT_BODY:], aad
        )

    def wrap_with(self, kek: KEK, *, nonce: bytes | None = None) -> bytes:
        """Wrap this key under ``kek`` into a 69-byte ``SRbw`` blob naming the KEK version."""
        if not isinstance(kek, KEK):
            raise TypeError("kek must be a KEK")
        if nonce is None:
            nonce = random_bytes(NONCE_SIZE)
        elif len(nonce) != NONCE_SIZE:
            raise ValueError("nonce must be 12 bytes")
        header = _wrap_header(kek.version)
        return header + nonce + AES256GCM(kek.secret_bytes()).encrypt(nonce, self._key, header)

    @classmethod
    def unwrap_with(cls, kek: KEK, blob: bytes) -> Self:
        """Return the backup key wrapped in ``blob`` by ``kek``, or raise DecryptionFailed.

        A blob wrapped by another KEK version fails, as does any alteration.
        """
        if not isinstance(kek, KEK):
            raise TypeError("kek must be a KEK")
        if not isinstance(blob, bytes):
            raise DecryptionFailed() from None
        header = _wrap_header(kek.version)
        if len(blob) != _WRAPPED_LEN or blob[:_WRAP_HEADER_LEN] != header:
            raise DecryptionFailed() from None
        aead = AES256GCM(kek.secret_bytes())
        return cls(aead.decrypt(blob[_WRAP_HEADER_LEN:_WRAP_BODY], blob[_WRAP_BODY:], header))

    @staticmethod
    def wrapped_kek_version(blob: bytes) -> int:
        """Return the KEK version named by an ``SRbw`` blob, without decrypting.

        Raises DecryptionFailed if ``blob`` is not a wrapped backup key. The
        version is authenticated only when the blob is unwrapped.
        """
        if not isinstance(blob, bytes):
            raise DecryptionFailed() from None
        if len(blob) != _WRAPPED_LEN or blob[:5] != MAGIC_BACKUP_KEY_BY_KEK + bytes([FORMAT_V1]):
            raise DecryptionFailed() from None
        version: int = U32.unpack_from(blob, 5)[0]
        return version


def _wrap_header(version: int) -> bytes:
    """The 9-byte ``SRbw`` header (and AAD) for KEK ``version``."""
    return MAGIC_BACKUP_KEY_BY_KEK + bytes([FORMAT_V1]) + U32.pack(version)


def _chunk_aad(chunk_id: object) -> bytes | None:
    """The AAD binding format and chunk id; ``None`` if ``chunk_id`` is malformed."""
    if not isinstance(chunk_id, str) or not _CHUNK_ID_RE.fullmatch(chunk_id):
        return None
    # The id is fixed-length ASCII, so plain concatenation is unambiguous.
    return _CHUNK_HEADER + chunk_id.encode("ascii")
