"""Domain records returned by the repositories (never a Session or a Row).

Example::

    >>> m = Mount(tenant="default", name="secret", type="kv", description="",
    ...           max_versions=0, cas_required=False, delete_version_after=0.0, created_at=0.0)
    >>> m.name
    'secret'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KekVersionRecord",
    "Mount",
    "PolicyRecord",
    "RecordMetadata",
    "RecordVersion",
    "SealConfig",
    "SubjectRecord",
    "TokenRecord",
]


@dataclass(frozen=True, slots=True)
class SealConfig:
    """How the root key is protected (never the key itself)."""

    kind: str
    shares: int
    threshold: int
    protected_root: bytes | None = field(repr=False)
    check_value: bytes = field(repr=False)
    created_at: float


@dataclass(frozen=True, slots=True)
class KekVersionRecord:
    """One KEK version as stored: wrapped by the root key."""

    version: int
    wrapped: bytes = field(repr=False)
    created_at: float
    retired_at: float | None
    encryptions: int


@dataclass(frozen=True, slots=True)
class Mount:
    """A KV v2 mount inside a tenant."""

    tenant: str
    name: str
    type: str
    description: str
    max_versions: int
    cas_required: bool
    delete_version_after: float
    created_at: float


@dataclass(frozen=True, slots=True)
class RecordMetadata:
    """Metadata of one record path (KV v2 ``metadata``)."""

    id: int
    tenant: str
    mount: str
    path: str
    current_version: int
    oldest_version: int
    max_versions: int
    cas_required: bool
    delete_version_after: float
    custom_metadata: dict[str, str]
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One version of a record; ``ciphertext`` is ``None`` once destroyed."""

    version: int
    created_at: float
    deletion_time: float | None
    destroyed: bool
    content_type: str
    kek_version: int | None
    subject_id: str | None
    wrapped_dek: bytes | None = field(repr=False)
    ciphertext: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class SubjectRecord:
    """A data subject's key, wrapped by a KEK; ``wrapped_key`` is gone once erased."""

    id: str
    tenant: str
    kek_version: int | None
    wrapped_key: bytes | None = field(repr=False)
    created_at: float
    erased_at: float | None
    ref_index: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as stored: only its keyed hash, never the token."""

    accessor: str
    token_hash: bytes = field(repr=False)
    tenant: str
    policies: tuple[str, ...]
    display_name: str
    created_at: float
    expires_at: float | None
    max_expires_at: float | None
    ttl: int
    renewable: bool
    parent_accessor: str | None
    revoked_at: float | None
    meta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A named ACL policy document in a tenant."""

    tenant: str
    name: str
    document: str
    revision: int
    updated_at: float
