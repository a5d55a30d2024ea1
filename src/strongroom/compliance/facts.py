"""The live facts one compliance report is judged on, gathered once per report.

Pure data: :mod:`strongroom.compliance.evidence` fills it from a running
vault (database, settings, the ledger verified just now, the API's routes);
every control reads it and nothing else, so a report judges every control
against the same moment. Nothing here holds a secret value: tokens appear
by accessor, keys by version number and age, the ledger by hashes.

Example::

    >>> Route("GET", "/v1/sys/keys", event="sys:keys:status", authenticated=True).label
    'GET /v1/sys/keys'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.config import Settings

__all__ = [
    "PRE_AUTH_PATHS",
    "PROBE_PATHS",
    "ActivityFacts",
    "AlertFacts",
    "BackupFacts",
    "CheckpointFacts",
    "Facts",
    "KeyFacts",
    "KeyVersion",
    "LedgerFacts",
    "ListenerFacts",
    "PrivilegedToken",
    "RecordFacts",
    "RetentionFacts",
    "Route",
    "SealFacts",
    "SubjectFacts",
    "TokenFacts",
]

PROBE_PATHS = frozenset({"/livez", "/readyz", "/v1/sys/health", "/openapi.json"})
"""The only paths the audit trail may skip: liveness and readiness probes and the API
description, which carry no data (docs/audit.md). Any other unaudited path fails."""

PRE_AUTH_PATHS = PROBE_PATHS | {"/v1/sys/seal-status", "/v1/sys/init", "/v1/sys/unseal"}
"""The only paths that may answer without a token: the probes, and the seal routes an
operator needs before any token can exist. Any other route without a token fails."""


@dataclass(frozen=True, slots=True)
class Route:
    """One method and path template the API serves, as the running app has it."""

    method: str
    path: str
    event: str | None
    """The audit event the audit trail names this route's entries with (None: none)."""
    authenticated: bool
    """True when the route needs a token before its handler runs."""
    audited: bool = True
    """False for the paths the audit trail skips on purpose (see :data:`PROBE_PATHS`)."""

    @property
    def label(self) -> str:
        """``METHOD /path/{template}``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class SealFacts:
    """How the root key is released: ``shamir``, ``passphrase`` or ``dev`` (None: no vault yet)."""

    kind: str | None
    shares: int
    threshold: int
    state: str
    created_at: float | None


@dataclass(frozen=True, slots=True)
class KeyVersion:
    """One KEK version, its age and usage, and how many keys it still wraps."""

    version: int
    created_at: float
    retired_at: float | None
    encryptions: int
    records: int
    subjects: int


@dataclass(frozen=True, slots=True)
class KeyFacts:
    """The keyring's history: every KEK version, oldest first."""

    versions: tuple[KeyVersion, ...]

    @property
    def current(self) -> KeyVersion | None:
        """The newest unretired version (the one new writes use)."""
        live = [v for v in self.versions if v.retired_at is None]
        return live[-1] if live else None


@dataclass(frozen=True, slots=True)
class PrivilegedToken:
    """A live token carrying the ``root`` policy (by accessor, never the token)."""

    accessor: str
    tenant: str
    created_at: float
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """Live (unrevoked, unexpired) tokens."""

    live: int
    privileged: tuple[PrivilegedToken, ...]
    non_expiring: tuple[str, ...]
    """Accessors of live tokens that never expire."""


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """Stored record versions that still hold a ciphertext."""

    versions: int
    unwrapped: int
    """Versions holding a ciphertext with no wrapped key, or no KEK or subject key named."""
    on_dead_kek: int
    """Versions whose data key names a KEK version that is retired or does not exist."""
    under_erased_subject: int
    """Versions sealed under an erased subject's key (unreadable: crypto-shredded)."""


@dataclass(frozen=True, slots=True)
class CheckpointFacts:
    """A signed checkpoint as stored: size, root hash (base64), the signed note."""

    size: int
    root_hash: str
    note: str
    created_at: float


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    """The audit ledger as verified while the report was gathered."""

    size: int
    origin: str | None
    verifier_key: str | None
    checkpoint: CheckpointFacts | None
    verified: bool
    """True when the checkpoint's signature verifies and the stored entries re-hash to its root."""
    verified_size: int
    problems: tuple[str, ...]
    """What did not verify, each naming the entry index or checkpoint concerned."""
    rehashed: int
    """Entries whose bytes were hashed again for this report."""


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """Security-monitor alerts as the log holds them (``monitor:alert:raise`` / ``…:ack``)."""

    raised: int
    acknowledged: int
    open_ids: tuple[int, ...]
    last_raised: int | None
    last_raised_time: float | None


@dataclass(frozen=True, slots=True)
class BackupFacts:
    """Backups as the log vouches for them (``sys:backup:create`` entries that succeeded)."""

    logged: int
    last_index: int | None
    last_time: float | None
    last_snapshot: str | None
    restores: int


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """Data subjects and erasures."""

    total: int
    erased: int
    erased_with_key: tuple[str, ...]
    """Ids of erased subjects whose wrapped key is still stored (erasure not effective)."""


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    """What the log says about changes and denials."""

    changes: Mapping[str, int]
    """Allowed entries of each change event (policies, mounts, keys, tenants, seal)."""
    unattributed_changes: tuple[int, ...]
    """Indices of allowed change entries that name no principal."""
    denied: int
    """Entries whose outcome is ``denied``."""


@dataclass(frozen=True, slots=True)
class RetentionFacts:
    """Retention rules, where data subjects' records are, and when the rules last ran."""

    subject_records: Mapping[str, int]
    """``tenant/mount`` → record versions sealed under a subject's key there."""
    rules: tuple[Mapping[str, object], ...]
    """Every retention rule (tenant, name, mount, path_prefix, action, after_s, purpose)."""
    version_expiry: Mapping[str, float]
    """``tenant/mount`` → the mount's delete_version_after (0: none)."""
    consent_purposes: Mapping[str, tuple[str, ...]]
    """``tenant/mount`` → purposes the tenant's policies require consent for there."""
    active_holds: int
    runs_logged: int
    """Allowed ``sys:retention:apply`` entries."""
    last_run_time: float | None


@dataclass(frozen=True, slots=True)
class ListenerFacts:
    """How the HTTP listener is reached."""

    listen: str
    tls: bool
    cert_file: str | None
    tls_problem: str | None
    """Why the configured certificate and key cannot serve TLS (None: they load, or no TLS)."""
    request_scheme: str | None
    """The scheme of the request that asked for the report, as the server saw it."""


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a report judges, gathered at one moment (``now``, UNIX seconds)."""

    now: float
    settings: Settings = field(repr=False)
    seal: SealFacts
    keys: KeyFacts
    tokens: TokenFacts
    records: RecordFacts
    ledger: LedgerFacts
    alerts: AlertFacts
    backups: BackupFacts
    subjects: SubjectFacts
    activity: ActivityFacts
    listener: ListenerFacts
    routes: tuple[Route, ...]
    retention: RetentionFacts
