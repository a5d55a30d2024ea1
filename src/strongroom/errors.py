"""The one error hierarchy of Strongroom.

Every failure a caller can act on is a :class:`StrongroomError`. Each family
declares the HTTP status it maps to, a stable problem ``type`` slug and a
*safe* public title; the API maps them in one handler (RFC 9457) and the CLI
prints :meth:`StrongroomError.diagnostics` and exits with :attr:`exit_code`.

Messages are written for the caller and must never contain secret values,
tokens, plaintext or key material: they are logged and shown as they are.

Example::

    >>> from strongroom.errors import NotFound
    >>> err = NotFound("no secret at that path")
    >>> err.status_code, err.exit_code
    (404, 3)
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuditUnavailable",
    "Conflict",
    "ConsentRequired",
    "DecryptionFailed",
    "Gone",
    "IntegrityViolation",
    "InvalidInput",
    "KeyUnavailable",
    "LegalHold",
    "NotFound",
    "NotInitialized",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProofInvalid",
    "RateLimited",
    "Sealed",
    "StorageUnavailable",
    "StrongroomError",
    "Unauthenticated",
    "Unavailable",
]


class StrongroomError(Exception):
    """Root of every error Strongroom raises on purpose.

    ``detail`` is a human sentence safe to show to the caller; ``extra`` holds
    machine-readable, equally safe members for the problem document.
    """

    status_code: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def diagnostics(self) -> str:
        """Return a one-line, human-readable description for CLI and logs."""
        return f"{self.title}: {self.detail}" if self.detail != self.title else self.title

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class InvalidInput(StrongroomError):
    """The request is malformed or violates a documented constraint."""

    status_code = 400
    exit_code = 2
    slug = "invalid-input"
    title = "Invalid input"


class Unauthenticated(StrongroomError):
    """No valid credential was presented (missing, unknown, expired or revoked token)."""

    status_code = 401
    exit_code = 4
    slug = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(StrongroomError):
    """The caller is authenticated but policy does not grant the capability."""

    status_code = 403
    exit_code = 4
    slug = "permission-denied"
    title = "Permission denied"


class NotFound(StrongroomError):
    """Nothing is there, or nothing the caller may know about (same answer for both)."""

    status_code = 404
    exit_code = 3
    slug = "not-found"
    title = "Not found"
    denied_by_policy = False
    """Set when policy, not absence, caused the 404: recorded in the audit log, never shown."""


class Conflict(StrongroomError):
    """The request conflicts with current state (check-and-set mismatch, key in use)."""

    status_code = 409
    exit_code = 6
    slug = "conflict"
    title = "Conflict"


class LegalHold(Conflict):
    """A legal hold forbids destroying this data (erasure or retention) until it is released."""

    slug = "legal-hold"
    title = "Under legal hold"


class ConsentRequired(PermissionDenied):
    """Policy requires a valid consent of the data subject for the declared purpose."""

    slug = "consent-required"
    title = "Consent required"


class Gone(StrongroomError):
    """The data existed and was destroyed for good (its data subject was erased)."""

    status_code = 410
    exit_code = 3
    slug = "gone"
    title = "Gone"


class PayloadTooLarge(StrongroomError):
    """The request body exceeds the configured limit."""

    status_code = 413
    exit_code = 2
    slug = "payload-too-large"
    title = "Payload too large"


class HeadersTooLarge(StrongroomError):
    """The request's headers exceed the configured size or count (RFC 6585 §5)."""

    status_code = 431
    exit_code = 2
    slug = "headers-too-large"
    title = "Request header fields too large"


class RateLimited(StrongroomError):
    """Too many requests from this token or address, or too many failed attempts (lockout)."""

    status_code = 429
    exit_code = 5
    slug = "rate-limited"
    title = "Too many requests"


class Unavailable(StrongroomError):
    """The service cannot answer now; retrying later may succeed."""

    status_code = 503
    exit_code = 5
    slug = "unavailable"
    title = "Service unavailable"


class Sealed(Unavailable):
    """The vault is sealed: no key material is in memory, so no data path works."""

    slug = "sealed"
    title = "Vault is sealed"


class NotInitialized(Unavailable):
    """The vault has no root key yet; run ``strongroom operator init``.

    Data paths answer 503 like a sealed vault; ``/v1/sys/health`` answers 501
    as HashiCorp Vault does.
    """

    slug = "not-initialized"
    title = "Vault is not initialized"


class StorageUnavailable(Unavailable):
    """The database could not be reached or refused the transaction."""

    slug = "storage-unavailable"
    title = "Storage unavailable"


class AuditUnavailable(Unavailable):
    """The audit entry could not be written, so the request was not carried out."""

    slug = "audit-unavailable"
    title = "Audit log unavailable"


class KeyUnavailable(StrongroomError):
    """A key version needed for this operation is retired or missing."""

    status_code = 409
    exit_code = 6
    slug = "key-unavailable"
    title = "Key unavailable"


class DecryptionFailed(StrongroomError):
    """Opaque: a ciphertext failed to open, for whatever reason.

    The reason (wrong key, wrong AAD, truncation, tampering, unknown version)
    is deliberately not distinguished, so no oracle is offered.
    """

    status_code = 500
    exit_code = 7
    slug = "decryption-failed"
    title = "Decryption failed"


class IntegrityViolation(StrongroomError):
    """Stored data is not what was written (tampering or corruption detected)."""

    status_code = 500
    exit_code = 7
    slug = "integrity-violation"
    title = "Integrity violation"


class ProofInvalid(IntegrityViolation):
    """A cryptographic proof did not verify; ``extra`` carries expected and got."""

    slug = "proof-invalid"
    title = "Proof invalid"
