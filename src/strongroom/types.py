"""Identifiers and small value types shared by every layer.

``NewType`` keeps ids that are all ``str`` or ``int`` at runtime apart in the
type checker, so a mount cannot be passed where a path is expected.

Example::

    >>> from strongroom.types import TenantId
    >>> TenantId("default")
    'default'
"""

from __future__ import annotations

import enum
from typing import NewType

__all__ = [
    "B64Str",
    "Capability",
    "KekVersion",
    "MountName",
    "PolicyName",
    "RecordPath",
    "SealState",
    "SubjectId",
    "TenantId",
    "TokenAccessor",
]

TenantId = NewType("TenantId", str)
MountName = NewType("MountName", str)
RecordPath = NewType("RecordPath", str)
PolicyName = NewType("PolicyName", str)
TokenAccessor = NewType("TokenAccessor", str)
SubjectId = NewType("SubjectId", str)
KekVersion = NewType("KekVersion", int)
B64Str = NewType("B64Str", str)


class SealState(enum.StrEnum):
    """Lifecycle of the root key in this process."""

    UNINITIALIZED = "uninitialized"
    SEALED = "sealed"
    UNSEALED = "unsealed"


class Capability(enum.StrEnum):
    """What a policy rule may grant on a path (deny overrides everything)."""

    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    LIST = "list"
    SUDO = "sudo"
    DENY = "deny"
