"""Ed25519 signing keys (RFC 8032) for ledger checkpoints, sealed at rest by the root key.

A :class:`SigningKey` is the 32-byte Ed25519 seed (RFC 8032 §5.1.5); like every
key object it masks itself in ``repr``, refuses pickling and compares in
constant time. Its :class:`VerifyKey` is the 32-byte public key and may be
published freely. Verification raises :class:`~strongroom.errors.ProofInvalid`;
it never returns a boolean.

The signing key is stored only sealed by the root key, in a versioned blob::

    magic "SRsg"(4) | format version 0x01(1) | nonce(12) | AES-256-GCM(seed) + tag(16)

The AES key is ``RootKey.derive("signing-key-wrap")``, an HKDF output that no
other use shares (RFC 5869 §3.2). The AAD is ``"SRsg" | 0x01 | lp16(name)``:
the magic binds the purpose and the length-prefixed UTF-8 ``name`` binds the
key's identity (its signed-note key name), so a blob sealed for one name
cannot be unsealed as another. Every failure to unseal is the one opaque
:class:`~strongroom.errors.DecryptionFailed`.

Example::

    >>> from strongroom.crypto import RootKey, SigningKey, seal_signing_key, unseal_signing_key
    >>> root = RootKey.generate()
    >>> key = SigningKey.generate()
    >>> signature = key.sign(b"tree head")
    >>> key.public_key().verify(b"tree head", signature)  # raises ProofInvalid if bad
    >>> blob = seal_signing_key(root, key, name="strongroom.local/prod/audit/v1")
    >>> unseal_signing_key(root, blob, name="strongroom.local/prod/audit/v1") == key
    True
    >>> key
    SigningKey(key=<redacted>)
"""

from __future__ import annotations

from typing import Final, Self

from strongroom.crypto._encoding import FORMAT_V1, lp16
from strongroom.crypto._primitives import (
    AES256GCM,
    ED25519_PUBLIC_KEY_SIZE,
    ED25519_SEED_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    Ed25519Signer,
    Ed25519Verifier,
    random_bytes,
)
from strongroom.crypto.keys import RootKey, _SecretKey
from strongroom.errors import DecryptionFailed, ProofInvalid

__all__ = ["SigningKey", "VerifyKey", "seal_signing_key", "unseal_signing_key"]

MAGIC_SIGNING_KEY_BY_ROOT: Final = b"SRsg"
"""Magic of a signing key sealed by the root key (``SRsk`` is the KEK-wrapped subject key)."""

_HEADER: Final = MAGIC_SIGNING_KEY_BY_ROOT + bytes([FORMAT_V1])
_SEALED_LEN: Final = len(_HEADER) + NONCE_SIZE + ED25519_SEED_SIZE + TAG_SIZE
_WRAP_PURPOSE: Final = "signing-key-wrap"
_MAX_NAME_BYTES: Final = 1024


class SigningKey(_SecretKey):
    """An Ed25519 private key: the 32-byte seed of RFC 8032 §5.1.5.

    Ed25519 signing is deterministic (RFC 8032 §5.1.6), so no randomness is
    consumed per signature and the same message always gets the same bytes.
    """

    __slots__ = ("_signer",)

    def __init__(self, seed: bytes) -> None:
        super().__init__(seed)
        self._signer = Ed25519Signer(seed)

    @classmethod
    def generate(cls) -> Self:
        """Return a new random signing key (seed from the OS CSPRNG)."""
        return cls(random_bytes(ED25519_SEED_SIZE))

    def public_key(self) -> VerifyKey:
        """Return the matching public :class:`VerifyKey`."""
        return VerifyKey(self._signer.public_bytes())

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature ``R || S`` of ``message``."""
        if not isinstance(message, bytes):
            raise TypeError("message must be bytes")
        return self._signer.sign(message)


class VerifyKey:
    """An Ed25519 public key: 32 bytes, safe to publish and to log.

    Compared and hashed by value, so it can be a dict key (for example in a
    table of trusted witness keys).
    """

    __slots__ = ("_raw", "_verifier")

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes):
            raise TypeError("public key must be bytes")
        if len(raw) != ED25519_PUBLIC_KEY_SIZE:
            raise ValueError("an Ed25519 public key is 32 bytes")
        self._raw = raw
        self._verifier = Ed25519Verifier(raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Return the key encoded as 32 raw bytes (RFC 8032 §5.1.2); ``ValueError`` otherwise."""
        return cls(data)

    @property
    def raw(self) -> bytes:
        """The 32-byte encoded public key."""
        return self._raw

    def verify(self, message: bytes, signature: bytes) -> None:
        """Return if ``signature`` is this key's signature of ``message``, else raise.

        Raises :class:`~strongroom.errors.ProofInvalid` for every failure: a
        wrong length, a non-canonical or forged signature, an altered message.
        """
        if not isinstance(message, bytes):
            raise TypeError("message must be bytes")
        if not isinstance(signature, bytes):
            raise TypeError("signature must be bytes")
        if not self._verifier.verify(message, signature):
            raise ProofInvalid("Ed25519 signature does not verify")

    def __repr__(self) -> str:
        return f"VerifyKey({self._raw.hex()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __reduce__(self) -> tuple[type[VerifyKey], tuple[bytes]]:
        # Public material may be pickled; rebuild from the raw bytes.
        return (VerifyKey, (self._raw,))


def seal_signing_key(
    root: RootKey, key: SigningKey, *, name: str, nonce: bytes | None = None
) -> bytes:
    """Seal ``key`` under ``root`` into a 65-byte ``SRsg`` blob bound to ``name``.

    ``name`` identifies the key (by convention its signed-note key name) and
    must be given again to unseal. ``nonce`` is only for known-answer tests.
    """
    if not isinstance(key, SigningKey):
        raise TypeError("key must be a SigningKey")
    aad = _aad(name)
    if aad is None:
        raise ValueError("name must be 1..1024 UTF-8 bytes")
    if nonce is None:
        nonce = random_bytes(NONCE_SIZE)
    elif len(nonce) != NONCE_SIZE:
        raise ValueError("nonce must be 12 bytes")
    aead = AES256GCM(root.derive(_WRAP_PURPOSE))
    return _HEADER + nonce + aead.encrypt(nonce, key.secret_bytes(), aad)


def unseal_signing_key(root: RootKey, blob: bytes, *, name: str) -> SigningKey:
    """Return the signing key sealed in ``blob`` for ``name``, or raise DecryptionFailed.

    A wrong root key, a wrong name, a truncated, altered or unknown-version
    blob all raise the same opaque :class:`~strongroom.errors.DecryptionFailed`.
    """
    aad = _aad(name)
    if aad is None or len(blob) != _SEALED_LEN or blob[: len(_HEADER)] != _HEADER:
        raise DecryptionFailed() from None
    n = len(_HEADER)
    aead = AES256GCM(root.derive(_WRAP_PURPOSE))
    seed = aead.decrypt(blob[n : n + NONCE_SIZE], blob[n + NONCE_SIZE :], aad)
    return SigningKey(seed)


def _aad(name: str) -> bytes | None:
    """Return the AAD binding purpose, format and ``name``; ``None`` for an invalid name."""
    try:
        encoded = name.encode()
    except (AttributeError, UnicodeEncodeError):
        return None
    if not 0 < len(encoded) <= _MAX_NAME_BYTES:
        return None
    return _HEADER + lp16(encoded)
