"""Raw cryptographic primitives: the only module that imports ``cryptography`` or ``argon2``.

Everything else in :mod:`strongroom.crypto` calls these small, boring helpers,
so the dangerous surface (nonce handling, tag checks, KDF parameters, signature
checks) is in one file that can be audited on its own.

Example::

    >>> from strongroom.crypto._primitives import AES256GCM, random_bytes
    >>> aead = AES256GCM(random_bytes(32))
    >>> nonce = random_bytes(12)
    >>> aead.decrypt(nonce, aead.encrypt(nonce, b"hi", b"ctx"), b"ctx")
    b'hi'
    >>> from strongroom.crypto._primitives import Ed25519Signer, Ed25519Verifier
    >>> signer = Ed25519Signer(random_bytes(32))
    >>> Ed25519Verifier(signer.public_bytes()).verify(b"hi", signer.sign(b"hi"))
    True
"""

from __future__ import annotations

import hmac
import os
from typing import Final

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.errors import DecryptionFailed

__all__ = [
    "AES256GCM",
    "ED25519_PUBLIC_KEY_SIZE",
    "ED25519_SEED_SIZE",
    "ED25519_SIGNATURE_SIZE",
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "Ed25519Signer",
    "Ed25519Verifier",
    "aes256gcm_decrypt",
    "aes256gcm_encrypt",
    "argon2id",
    "constant_time_equal",
    "hkdf_sha256",
    "hmac_sha256",
    "random_bytes",
]

KEY_SIZE: Final = 32
"""AES-256 key length in bytes."""

NONCE_SIZE: Final = 12
"""GCM nonce length in bytes: 96 bits, as NIST SP 800-38D §8.2.2 recommends for random IVs."""

TAG_SIZE: Final = 16
"""GCM tag length in bytes: the full 128 bits (NIST SP 800-38D §5.2.1.2)."""

ED25519_SEED_SIZE: Final = 32
"""Ed25519 private key (seed) length in bytes (RFC 8032 §5.1.5)."""

ED25519_PUBLIC_KEY_SIZE: Final = 32
"""Ed25519 public key length in bytes: an encoded point (RFC 8032 §5.1.2)."""

ED25519_SIGNATURE_SIZE: Final = 64
"""Ed25519 signature length in bytes: ``R || S`` (RFC 8032 §5.1.6)."""


def random_bytes(n: int) -> bytes:
    """Return ``n`` bytes from the operating system CSPRNG (``getrandom``).

    ``os.urandom`` is used rather than any user-space generator so that a
    forked worker can never replay its parent's random stream (which for GCM
    nonces would be catastrophic, NIST SP 800-38D §8).
    """
    return os.urandom(n)


class AES256GCM:
    """AES-256-GCM under one fixed key, with the ``AESGCM`` context built once.

    Long-lived keys (KEKs, the root wrapping key) keep one instance so each
    call pays only for the cipher itself. Decryption failures of every kind
    become the single opaque :class:`~strongroom.errors.DecryptionFailed`.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "AES256GCM(key=<redacted>)"

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Return ``ciphertext || tag``; the caller owns nonce uniqueness."""
        return self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes | memoryview, data: bytes | memoryview, aad: bytes) -> bytes:
        """Return the plaintext of ``ciphertext || tag`` or raise :class:`DecryptionFailed`."""
        try:
            return self._aead.decrypt(nonce, data, aad)
        except (InvalidTag, ValueError, TypeError, OverflowError):
            # One opaque failure for every cause, so no oracle is offered.
            raise DecryptionFailed() from None

    def reencrypt(
        self,
        nonce: bytes,
        data: bytes,
        aad: bytes,
        *,
        to: AES256GCM,
        new_nonce: bytes,
        new_aad: bytes,
    ) -> bytes:
        """Decrypt under this key and encrypt the plaintext under ``to``, in one call.

        Used by key rotation, where per-call overhead dominates (a wrapped
        DEK is only 32 bytes). The plaintext never leaves this frame.
        """
        try:
            plaintext = self._aead.decrypt(nonce, data, aad)
        except (InvalidTag, ValueError, TypeError, OverflowError):
            raise DecryptionFailed() from None
        return to._aead.encrypt(new_nonce, plaintext, new_aad)


def aes256gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """One-shot AES-256-GCM encryption under a single-use key (a fresh DEK)."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes256gcm_decrypt(
    key: bytes, nonce: bytes | memoryview, data: bytes | memoryview, aad: bytes
) -> bytes:
    """One-shot AES-256-GCM decryption; any failure raises :class:`DecryptionFailed`."""
    try:
        return AESGCM(key).decrypt(nonce, data, aad)
    except (InvalidTag, ValueError, TypeError, OverflowError):
        raise DecryptionFailed() from None


def hkdf_sha256(ikm: bytes, *, info: bytes, length: int = 32, salt: bytes | None = None) -> bytes:
    """Derive ``length`` bytes with HKDF-SHA256 (RFC 5869 §2.2 extract, §2.3 expand).

    ``info`` separates the uses of one input key; a ``None`` salt is the
    RFC 5869 default of ``HashLen`` zero bytes, fine for uniformly random ``ikm``.
    """
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """Return HMAC-SHA256 (RFC 2104) of ``msg`` under ``key``, 32 bytes."""
    # The standard library's one-shot HMAC is OpenSSL-backed and avoids the
    # per-call object allocation of the hazmat HMAC context.
    return hmac.digest(key, msg, "sha256")


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time independent of where they differ."""
    return hmac.compare_digest(a, b)


def argon2id(
    secret: bytes,
    *,
    salt: bytes,
    time_cost: int,
    memory_cost_kib: int,
    parallelism: int,
    length: int = 32,
) -> bytes:
    """Derive ``length`` bytes from a low-entropy secret with Argon2id (RFC 9106 §3).

    Raises ``ValueError`` for parameters Argon2 rejects.
    """
    try:
        return hash_secret_raw(
            secret,
            salt,
            time_cost=time_cost,
            memory_cost=memory_cost_kib,
            parallelism=parallelism,
            hash_len=length,
            type=Type.ID,
        )
    except HashingError as exc:
        raise ValueError("invalid Argon2id parameters") from exc


class Ed25519Signer:
    """Ed25519 signing (RFC 8032 §5.1.6) under one fixed 32-byte seed.

    The key object is built once, so each signature pays only for the scalar
    multiplication. Ed25519 is deterministic: the same seed and message always
    give the same signature, which is what makes known-answer tests possible.
    """

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != ED25519_SEED_SIZE:
            raise ValueError("Ed25519 needs a 32-byte seed")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def __repr__(self) -> str:
        return "Ed25519Signer(seed=<redacted>)"

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def public_bytes(self) -> bytes:
        """Return the 32-byte encoded public key (RFC 8032 §5.1.5 step 4)."""
        return self._key.public_key().public_bytes_raw()


class Ed25519Verifier:
    """Ed25519 verification (RFC 8032 §5.1.7) under one fixed 32-byte public key.

    The bytes are only length-checked here: an encoding that is not a valid
    curve point makes every verification fail rather than the constructor.
    """

    __slots__ = ("_key",)

    def __init__(self, public: bytes) -> None:
        if len(public) != ED25519_PUBLIC_KEY_SIZE:
            raise ValueError("Ed25519 needs a 32-byte public key")
        self._key = Ed25519PublicKey.from_public_bytes(public)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid signature of ``message``.

        A boolean on purpose: this is the raw primitive, and the callers in
        :mod:`strongroom.crypto.signing` turn ``False`` into a domain error.
        """
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True
