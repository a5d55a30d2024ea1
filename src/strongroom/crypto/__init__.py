"""Keys, envelope encryption, rotation, secret sharing and signing for Strongroom.

Key hierarchy: root key → KEK versions (:class:`Keyring`) → one DEK per record
version, or a per-subject key for crypto-shreddable personal data. Records are
sealed with AES-256-GCM under their DEK; the payload AAD binds where the record
lives (:class:`RecordContext`). Backup chunks are named and sealed under a
:class:`BackupKey` that is stored only wrapped by a KEK. Every blob carries a
magic and a format version, and every decryption failure raises the one opaque
:class:`~strongroom.errors.DecryptionFailed`. Ledger checkpoints are signed
with an Ed25519 :class:`SigningKey` that is stored only sealed by the root key.

This package is the only one allowed to touch raw primitives, and within it
only ``_primitives`` imports ``cryptography`` and ``argon2``.

Example::

    >>> from strongroom import crypto
    >>> root = crypto.RootKey.generate()
    >>> ring = crypto.Keyring()
    >>> ring.add(crypto.KEK.generate(version=1))
    >>> ctx = crypto.RecordContext(tenant="acme", mount="kv", path="db/pw", version=1,
    ...                            key_class="kek", content_type="text/plain")
    >>> crypto.open(crypto.seal(b"s3cret", ctx, ring), ctx, ring)
    b's3cret'
"""

from strongroom.crypto.backup_key import BackupKey
from strongroom.crypto.blind_index import BlindIndex, normalise
from strongroom.crypto.envelope import RecordContext, SealedRecord, open, rewrap, rewrap_many, seal
from strongroom.crypto.keyring import (
    DEFAULT_ROTATE_AFTER,
    NIST_GCM_RANDOM_NONCE_LIMIT,
    EncryptionCounter,
    Keyring,
)
from strongroom.crypto.keys import (
    KEK,
    DataKey,
    KeyPurpose,
    RootKey,
    SubjectKey,
    WrappingKey,
    wrapped_kek_version,
)
from strongroom.crypto.passphrase import Argon2Params, protect, recover
from strongroom.crypto.shamir import ShareInfo, combine, inspect_share, split
from strongroom.crypto.signing import SigningKey, VerifyKey, seal_signing_key, unseal_signing_key
from strongroom.crypto.token import (
    TOKEN_PREFIX,
    SecretToken,
    generate_accessor,
    generate_token,
    looks_like_token,
    token_hash,
)
from strongroom.crypto.webhook_signature import SIGNATURE_HEADER, sign_webhook, verify_webhook

__all__ = [
    "DEFAULT_ROTATE_AFTER",
    "KEK",
    "NIST_GCM_RANDOM_NONCE_LIMIT",
    "SIGNATURE_HEADER",
    "TOKEN_PREFIX",
    "Argon2Params",
    "BackupKey",
    "BlindIndex",
    "DataKey",
    "EncryptionCounter",
    "KeyPurpose",
    "Keyring",
    "RecordContext",
    "RootKey",
    "SealedRecord",
    "SecretToken",
    "ShareInfo",
    "SigningKey",
    "SubjectKey",
    "VerifyKey",
    "WrappingKey",
    "combine",
    "generate_accessor",
    "generate_token",
    "inspect_share",
    "looks_like_token",
    "normalise",
    "open",
    "protect",
    "recover",
    "rewrap",
    "rewrap_many",
    "seal",
    "seal_signing_key",
    "sign_webhook",
    "split",
    "token_hash",
    "unseal_signing_key",
    "verify_webhook",
    "wrapped_kek_version",
]
