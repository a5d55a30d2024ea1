"""Typed settings, built once by an entry point and passed down.

Nothing in the library reads the environment at import time: ``api.create_app``
and ``cli.main`` build a :class:`Settings` (from ``STRONGROOM_*`` variables,
flags or code) and hand it to the services.

Example::

    >>> from pathlib import Path
    >>> s = Settings(data_dir=Path("/tmp/sr"), dev=True)
    >>> s.effective_database_url()
    'sqlite:////tmp/sr/strongroom.db'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_data_dir"]


def default_data_dir() -> Path:
    """Return ``$XDG_DATA_HOME/strongroom`` (``~/.local/share/strongroom`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "strongroom"


# host:port, or [v6]:port.
_HOST_PORT = r"^(\[[0-9a-fA-F:.]+\]|[^:\s]*):[0-9]{1,5}$"

# limits' rate syntax: "100/second", "5/minute", "10/10 seconds"; empty disables.
_RATE = r"^$|^[0-9]+ *(/|per) *([0-9]+ *)?(second|minute|hour|day)s?$"


class Settings(BaseSettings):
    """Every knob of a Strongroom server; see docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="STRONGROOM_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    """Directory for the SQLite database and, in dev mode, the key file."""

    database_url: SecretStr | None = None
    """SQLAlchemy URL; ``postgresql+psycopg://…`` selects PostgreSQL (default: SQLite)."""

    listen: str = "127.0.0.1:8200"
    """``host:port`` the HTTP server binds to."""

    tls_cert_file: Path | None = None
    """PEM certificate chain the server presents: with ``tls_key_file`` the listener speaks
    HTTPS only (unset: plain HTTP, for a TLS-terminating proxy in front or loopback)."""

    tls_key_file: Path | None = None
    """PEM private key (unencrypted) of ``tls_cert_file``."""

    dev: bool = False
    """Dev mode: self-initialise, self-unseal from a 0600 key file. Never in production."""

    dev_root_token: SecretStr | None = None
    """Root token to create in dev mode (refused outside dev mode)."""

    max_payload_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest accepted request body; larger ones get 413."""

    max_header_bytes: int = Field(default=16384, ge=1024)
    """Largest total size of a request's headers and query string; larger ones get 431
    (so do requests with over 100 header fields)."""

    kek_rotate_after: int = Field(default=2**31, ge=1, le=2**32 - 1)
    """Encryptions under one KEK version before it is rotated automatically (NIST SP 800-38D)."""

    kek_max_age_s: float | None = Field(default=365 * 24 * 3600.0, gt=0)
    """Cryptoperiod of a KEK version, seconds: the compliance report counts a current KEK
    older than this as overdue for rotation (PCI DSS 3.6.1, NIST SP 800-57 §5.3). Nothing
    rotates by age on its own (unset: no cryptoperiod, the report asks for evidence)."""

    default_token_ttl: int = Field(default=32 * 24 * 3600, ge=1)
    """Default token time-to-live, seconds."""

    max_token_ttl: int = Field(default=366 * 24 * 3600, ge=1)
    """Longest token time-to-live a caller may ask for, seconds."""

    group_commit_max_batch: int = Field(default=512, ge=1)
    """Most write operations committed in one transaction."""

    group_commit_max_wait_ms: float = Field(default=0.0, ge=0.0, le=100.0)
    """Extra time the writer waits to fill a batch (0: take what is queued)."""

    db_pool_size: int = Field(default=8, ge=1)
    """Connections kept for readers (PostgreSQL) ."""

    list_page_max: int = Field(default=1000, ge=1)
    """Largest page a list request may ask for."""

    audit_origin: str | None = Field(default=None, max_length=200, pattern=r"^[!-*,-~]+$")
    """Origin line and key name of the audit log's checkpoints (C2SP tlog-checkpoint).
    Chosen once, when the signing key is made at the first unseal; by default
    ``strongroom.local/<random id>/audit/v1``."""

    audit_jsonl: str | None = None
    """Also append every durable audit entry as a JSON line to this file (``-``: stdout)."""

    audit_syslog: str | None = Field(default=None, pattern=r"^(udp://|tcp://|unix:)")
    """Also send every durable audit entry to syslog (RFC 5424): ``udp://host:514``,
    ``tcp://host:601`` or ``unix:/dev/log``."""

    backup_target: str | None = None
    """Where ``backup create`` writes by default (a directory or ``file://`` URL);
    ``<data_dir>/backups`` when unset."""

    backup_interval_s: float | None = Field(default=None, gt=0)
    """Take a backup to ``backup_target`` this often while unsealed (unset: never)."""

    backup_targets: list[str] = Field(default_factory=list)
    """Other targets a client may name in ``backup create --target`` (none by default)."""

    subject_key_backup_days: float = Field(default=30.0, gt=0, le=3650)
    """How long a key backup (the data subjects' keys, kept apart from snapshots) is kept.

    An erased subject's key leaves the repository once the first backup after
    ``erasure + this window`` has run; the newest key backup is always kept
    (see docs/subjects.md)."""

    retention_interval_s: float | None = Field(default=3600.0, gt=0)
    """Apply the retention rules this often while unsealed (unset: only on request)."""

    backup_s3_endpoint: str | None = None
    """Endpoint URL of an S3-compatible store for ``s3://`` backup targets (``None``: AWS).
    Credentials come from the standard AWS chain, never from these settings."""

    backup_s3_region: str = "us-east-1"
    """Region that requests to ``s3://`` backup targets are signed for."""

    rate_limit_per_token: str = Field(default="2000/second", pattern=_RATE)
    """Requests one token may make (``N/second``, ``N/minute``, ``N/10 seconds``…;
    empty: no limit). Over it: 429 with ``Retry-After``."""

    rate_limit_per_ip: str = Field(default="5000/second", pattern=_RATE)
    """Requests one client address may make (same syntax; empty: no limit)."""

    rate_limit_storage: str = Field(default="memory://", pattern=r"^(memory://|rediss?://)")
    """Where counters live: ``memory://`` (this process) or ``redis://host:6379/0``, so
    several API replicas share their limits and lockouts."""

    rate_limit_namespace: str = Field(default="strongroom", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """Prefix of the counters' keys (several deployments on one Redis)."""

    lockout_threshold: int = Field(default=10, ge=0)
    """Failed authentications or unseal attempts from one address, within
    ``lockout_window_s``, that lock it out (0: never)."""

    lockout_window_s: float = Field(default=60.0, gt=0)
    """The window failures are counted in."""

    lockout_base_s: float = Field(default=30.0, gt=0)
    """The first lockout's length; each further one within a day doubles it."""

    lockout_max_s: float = Field(default=3600.0, gt=0)
    """The longest lockout."""

    cors_origins: list[str] = Field(default_factory=list)
    """Origins allowed to call the API from a browser (none by default: CORS closed)."""

    otel_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    """Export OpenTelemetry traces over OTLP/HTTP to this base URL (spans go to
    ``/v1/traces``). ``OTEL_EXPORTER_OTLP_ENDPOINT`` does the same; unset, no tracing."""

    metrics_listen: str | None = Field(
        default=None, pattern=r"^(\[[0-9a-fA-F:.]+\]|[^:\s]*):[0-9]{1,5}$"
    )
    """Also serve ``/metrics`` without a token on this ``host:port`` (unset: only the
    authenticated ``/v1/sys/metrics``). Bind it to an internal interface."""

    monitor_enabled: bool = True
    """Run the security monitor over the audit log while unsealed (docs/monitoring.md)."""

    monitor_webhooks: list[str] = Field(default_factory=list)
    """URLs each alert is POSTed to as JSON, signed in ``Strongroom-Signature``."""

    monitor_webhook_secret: SecretStr | None = None
    """Key of the webhooks' HMAC-SHA256 signature (required when webhooks are set)."""

    monitor_warmup_entries: int = Field(default=200_000, ge=0)
    """Newest audit entries the monitor learns from when it starts (no alerts for them),
    so baselines survive a restart."""

    monitor_brute_force_failures: int = Field(default=8, ge=1)
    """Failed authentications from one client (or against one principal) that raise
    a ``brute_force`` alert."""

    monitor_brute_force_window_s: float = Field(default=600.0, gt=0)
    """The window they are counted in."""

    monitor_enumeration_paths: int = Field(default=15, ge=1)
    """Distinct paths answered 404/403 to one principal or client that raise an
    ``enumeration`` alert."""

    monitor_enumeration_window_s: float = Field(default=300.0, gt=0)
    """The window they are counted in."""

    monitor_exfiltration_factor: float = Field(default=4.0, gt=1.0)
    """How many times its own busiest usual window a principal must read for an
    ``exfiltration`` alert."""

    monitor_exfiltration_min_reads: int = Field(default=60, ge=1)
    """Reads in a window below which no ``exfiltration`` alert is raised."""

    monitor_unusual_min_events: int = Field(default=300, ge=1)
    """Requests a principal must have made before a new network or hour is unusual."""

    monitor_off_hours_share: float = Field(default=0.002, ge=0.0, le=1.0)
    """An hour of day (with its neighbours) holding less than this share of a
    principal's history is off-hours for it."""

    monitor_anomaly_min_windows: int = Field(default=2000, ge=100)
    """Per-principal windows of history before the IsolationForest is trained."""

    monitor_anomaly_score: float = Field(default=0.62, gt=0.5, lt=1.0)
    """Isolation Forest anomaly score above which a window is anomalous."""

    monitor_cooldown_s: float = Field(default=4 * 3600.0, ge=0)
    """After an alert, the same kind for the same subject stays quiet until this
    long has passed without a repeat."""

    log_format: Literal["json", "console"] = "json"
    """Log renderer; ``console`` is friendlier in a terminal."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level logged."""

    @model_validator(mode="after")
    def _refuse_dev_secrets_outside_dev(self) -> Settings:
        if self.dev_root_token is not None and not self.dev:
            raise ValueError("dev_root_token is only allowed in dev mode")
        if self.monitor_webhooks and self.monitor_webhook_secret is None:
            raise ValueError("monitor_webhooks need monitor_webhook_secret to sign alerts")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        if self.kek_rotate_after >= 2**32:
            raise ValueError("kek_rotate_after must stay below 2^32 (NIST SP 800-38D)")
        return self

    def effective_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite under :attr:`data_dir`."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'strongroom.db'}"

    def effective_backup_target(self) -> str:
        """Return the default backup target, ``<data_dir>/backups`` when unset."""
        return self.backup_target or str(self.data_dir / "backups")

    def is_sqlite(self) -> bool:
        """True when the embedded SQLite backend is in use."""
        return self.effective_database_url().startswith("sqlite")
