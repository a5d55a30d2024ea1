"""Request and response bodies of the HTTP API.

Example::

    >>> KVWrite(data={"password": "x"}).options.cas is None
    True
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "InitRequest",
    "KVMetadataWrite",
    "KVOptions",
    "KVVersions",
    "KVWrite",
    "MountRequest",
    "PolicyWrite",
    "Problem",
    "RetireRequest",
    "RewrapRequest",
    "TenantRequest",
    "TokenCreate",
    "TokenRef",
    "TokenRenew",
    "UnsealRequest",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None


class InitRequest(_Strict):
    """``POST /v1/sys/init``: Shamir (default) or passphrase protection of the root key."""

    secret_shares: int = Field(default=5, ge=1, le=16)
    secret_threshold: int = Field(default=3, ge=1, le=16)
    passphrase: str | None = Field(default=None, min_length=12, max_length=1024)


class UnsealRequest(_Strict):
    """``POST /v1/sys/unseal``: one share, or the passphrase, or a reset."""

    key: str | None = Field(default=None, max_length=4096)
    passphrase: str | None = Field(default=None, max_length=1024)
    reset: bool = False


class KVOptions(_Strict):
    """Write options: check-and-set and the data subject to seal under."""

    cas: int | None = Field(default=None, ge=0)
    subject: str | None = Field(default=None, max_length=64)


class KVWrite(_Strict):
    """``PUT /v1/{mount}/data/{path}``."""

    data: dict[str, Any]
    options: KVOptions = Field(default_factory=KVOptions)


class KVVersions(_Strict):
    """Versions to delete, undelete or destroy."""

    versions: list[int] = Field(default_factory=list, max_length=1000)


class KVMetadataWrite(_Strict):
    """``POST /v1/{mount}/metadata/{path}``."""

    max_versions: int | None = Field(default=None, ge=0, le=1_000_000)
    cas_required: bool | None = None
    delete_version_after: float | None = Field(default=None, ge=0, le=1e10)
    custom_metadata: dict[str, str] | None = None


class MountRequest(_Strict):
    """``POST /v1/sys/mounts/{name}``."""

    type: str = Field(default="kv", pattern="^kv$")
    description: str = Field(default="", max_length=512)
    max_versions: int = Field(default=0, ge=0, le=1_000_000)
    cas_required: bool = False
    delete_version_after: float = Field(default=0.0, ge=0, le=1e10)


class PolicyWrite(_Strict):
    """``PUT /v1/sys/policies/acl/{name}``: the document as JSON or YAML text."""

    policy: str = Field(max_length=256 * 1024)


class TokenCreate(_Strict):
    """``POST /v1/auth/token/create``."""

    policies: list[str] | None = Field(default=None, max_length=64)
    ttl: int | None = Field(default=None, ge=1)
    display_name: str = Field(default="", max_length=256)
    renewable: bool = True
    meta: dict[str, str] | None = None


class TokenRef(_Strict):
    """Names another token by its value or its accessor."""

    token: str | None = Field(default=None, max_length=512)
    accessor: str | None = Field(default=None, max_length=128)


class TokenRenew(TokenRef):
    """``POST /v1/auth/token/renew[-self]``."""

    increment: int | None = Field(default=None, ge=1)


class RewrapRequest(_Strict):
    """``POST /v1/sys/keys/rewrap``: one batch."""

    batch_size: int = Field(default=10_000, ge=1, le=100_000)


class RetireRequest(_Strict):
    """``POST /v1/sys/keys/retire``."""

    version: int = Field(ge=1)


class TenantRequest(_Strict):
    """``POST /v1/sys/tenants/{name}``."""

    ttl: int | None = Field(default=None, ge=1)
