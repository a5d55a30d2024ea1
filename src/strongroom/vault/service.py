"""The :class:`Vault`: one object that owns storage, keys and every service.

Entry points (``api.create_app``, the CLI, tests, benchmarks) build a Vault
from :class:`~strongroom.config.Settings`, call :meth:`Vault.open`, and pass
authenticated :class:`~strongroom.vault.principal.Principal` objects to its
services.

Example::

    >>> import tempfile, pathlib
    >>> from strongroom.config import Settings
    >>> v = Vault(Settings(data_dir=pathlib.Path(tempfile.mkdtemp()), dev=True))
    >>> v.open()
    >>> v.status()["sealed"]
    False
    >>> v.close()
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom import __version__
from strongroom.config import Settings
from strongroom.crypto import KEK, Keyring, RootKey, passphrase, shamir, token_hash
from strongroom.errors import (
    Conflict,
    DecryptionFailed,
    InvalidInput,
    PermissionDenied,
    StrongroomError,
)
from strongroom.storage.engine import Database
from strongroom.storage.models import Mount, SealConfig
from strongroom.storage.repositories import (
    KeyRepository,
    MountRepository,
    SealRepository,
    TenantRepository,
    TokenRepository,
)
from strongroom.storage.writer import WriteTx
from strongroom.types import SealState
from strongroom.vault.admin import AdminService
from strongroom.vault.audit import AuditLog
from strongroom.vault.consent import ConsentService
from strongroom.vault.keys import KeyService
from strongroom.vault.kv import KVService
from strongroom.vault.principal import SYSTEM_TENANT, Principal
from strongroom.vault.retention import RetentionService
from strongroom.vault.seal import SealManager
from strongroom.vault.subjects import SubjectService
from strongroom.vault.tokens import TokenService

__all__ = ["InitResult", "Vault"]

log = logging.getLogger(__name__)

DEV_KEY_FILE = "dev-root.key"


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``operator init`` hands out once: shares (or none) and the root token."""

    kind: str
    shares: list[str] = field(repr=False)
    threshold: int
    root_token: str = field(repr=False)


class Vault:
    """Storage, seal state and services of one Strongroom instance."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.db = Database.from_url(
            settings.effective_database_url(),
            pool_size=settings.db_pool_size,
            max_batch=settings.group_commit_max_batch,
            max_wait_s=settings.group_commit_max_wait_ms / 1000.0,
        )
        self.seal = SealManager()
        self.tokens = TokenService(self, clock)
        self.kv = KVService(self, clock)
        self.keys = KeyService(self, clock)
        self.admin = AdminService(self, clock)
        self.subjects = SubjectService(self, clock)
        self.consents = ConsentService(self, clock)
        self.retention = RetentionService(self, clock)
        self.audit = AuditLog(self, clock)
        self.db.writer.on_counts = self.keys.flush_counts
        self._seal_config: SealConfig | None = None
        self._token_key: bytes | None = None
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------

    def open(self) -> None:
        """Migrate the schema, start the writer and, in dev mode, self-unseal."""
        self.db.migrate()
        self.db.start()
        self.audit.open()
        if self.settings.dev:
            self._dev_bootstrap()

    def close(self) -> None:
        """Seal and release every resource."""
        self.audit.close()
        self.seal.seal()
        self._token_key = None
        self.db.close()

    def seal_config(self) -> SealConfig | None:
        """The seal configuration (cached once it exists)."""
        if self._seal_config is None:
            with self.db.read() as conn:
                self._seal_config = SealRepository(conn).get()
        return self._seal_config

    def state(self) -> SealState:
        """Uninitialized, sealed or unsealed."""
        return self.seal.state(initialized=self.seal_config() is not None)

    def require_unsealed(self) -> None:
        """Raise ``NotInitialized`` or ``Sealed`` unless the vault is unsealed."""
        if self.seal_config() is None:
            raise self.seal.not_initialized()
        self.seal.root()

    def token_key(self) -> bytes:
        """HMAC key for token hashes (derived from the root key; gone when sealed)."""
        key = self._token_key
        if key is None:
            self.require_unsealed()
            key = self._token_key = self.seal.root().derive("token-hmac")
        return key

    def status(self) -> dict[str, Any]:
        """Seal status in the shape of Vault's ``sys/seal-status``."""
        cfg = self.seal_config()
        threshold = cfg.threshold if cfg else 0
        progress = self.seal.progress(threshold)
        return {
            "type": cfg.kind if cfg else None,
            "initialized": cfg is not None,
            "sealed": self.seal.sealed,
            "t": threshold,
            "n": cfg.shares if cfg else 0,
            "progress": progress.progress,
            "nonce": progress.nonce,
            "version": __version__,
            "storage_type": "sqlite" if self.db.is_sqlite else "postgresql",
        }

    # -- init and unseal --------------------------------------------------------

    def initialize(
        self,
        *,
        shares: int = 5,
        threshold: int = 3,
        passphrase_text: str | None = None,
        kind: str | None = None,
        root: RootKey | None = None,
        root_token: str | None = None,
    ) -> InitResult:
        """Create the root key, KEK v1, the system tenant and the root token; stay sealed."""
        if self.seal_config() is not None:
            raise Conflict("the vault is already initialized")
        root = root or RootKey.generate()
        kind = kind or ("passphrase" if passphrase_text is not None else "shamir")
        share_list: list[str] = []
        protected: bytes | None = None
        if kind == "shamir":
            share_list = shamir.split(root.secret_bytes(), shares=shares, threshold=threshold)
        elif kind == "passphrase":
            if not passphrase_text or len(passphrase_text) < 12:
                raise InvalidInput("a passphrase must be at least 12 characters")
            protected = passphrase.protect(root, passphrase_text)
            shares, threshold = 0, 0
        elif kind == "dev":
            shares, threshold = 0, 0
        else:
            raise InvalidInput("seal type must be shamir or passphrase")
        now = self.clock()
        cfg = SealConfig(
            kind=kind,
            shares=shares,
            threshold=threshold,
            protected_root=protected,
            check_value=root.check_value(),
            created_at=now,
        )
        kek = KEK.generate(version=1)
        token_key = root.derive("token-hmac")

        def op(tx: WriteTx) -> str:
            SealRepository(tx.conn).create(cfg)
            KeyRepository(tx.conn).add(1, root.wrap_kek(kek), now=now)
            TenantRepository(tx.conn).ensure(SYSTEM_TENANT, now=now)
            MountRepository(tx.conn).create(
                Mount(SYSTEM_TENANT, "secret", "kv", "default KV v2 mount", 0, False, 0.0, now)
            )
            self._token_key = token_key
            try:
                created = self.tokens.insert_token(
                    tx,
                    tenant=SYSTEM_TENANT,
                    policies=("root",),
                    ttl=0,
                    expires_at=None,
                    display_name="root",
                    renewable=False,
                    meta={},
                    parent=None,
                    token=root_token,
                )
            finally:
                self._token_key = None
            return created.token

        token = self.db.write(op)
        self._seal_config = cfg
        return InitResult(kind=kind, shares=share_list, threshold=threshold, root_token=token)

    def submit_share(self, share: str) -> dict[str, Any]:
        """Give one Shamir share; unseals once the threshold is reached."""
        cfg = self.seal_config()
        if cfg is None:
            raise self.seal.not_initialized()
        if not self.seal.sealed:
            return self.status()
        if cfg.kind == "dev":
            raise InvalidInput("a dev-mode vault unseals from its key file: restart the server")
        if cfg.kind != "shamir":
            raise InvalidInput("this vault is sealed with a passphrase, not shares")
        secret = self.seal.add_share(share.strip(), threshold=cfg.threshold)
        if secret is not None:
            self._finish_unseal(RootKey(secret), cfg)
        return self.status()

    def unseal_passphrase(self, passphrase_text: str) -> dict[str, Any]:
        """Unseal with the passphrase (Argon2id is paid here, once)."""
        cfg = self.seal_config()
        if cfg is None:
            raise self.seal.not_initialized()
        if not self.seal.sealed:
            return self.status()
        if cfg.kind != "passphrase" or cfg.protected_root is None:
            raise InvalidInput("this vault is not sealed with a passphrase")
        if self.seal.sealed:
            try:
                root = passphrase.recover(cfg.protected_root, passphrase_text)
            except DecryptionFailed as exc:
                raise PermissionDenied("the passphrase does not unseal this vault") from exc
            self._finish_unseal(root, cfg)
        return self.status()

    def reset_unseal(self) -> dict[str, Any]:
        """Forget shares given so far."""
        self.seal.reset()
        return self.status()

    def _finish_unseal(self, root: RootKey, cfg: SealConfig) -> None:
        try:
            root.verify_check_value(cfg.check_value)
        except DecryptionFailed as exc:
            raise PermissionDenied("the shares do not reconstruct this vault's root key") from exc
        with self.db.read() as conn:
            rows = KeyRepository(conn).list_versions()
        keyring = Keyring.unwrap_all(
            root, [(r.version, r.wrapped, r.retired_at is not None) for r in rows]
        )
        self.keys.load_counts({r.version: r.encryptions for r in rows})
        self._token_key = None
        self.audit.on_unseal(root)
        self.seal.install(root, keyring)
        log.info("vault unsealed")

    def seal_now(self, principal: Principal) -> None:
        """Seal: drop the keys from memory. Operators only."""
        principal.require_operator()
        self._token_key = None
        self.seal.seal()
        self.audit.on_seal()
        self.tokens.invalidate()
        log.info("vault sealed")

    # -- dev mode ------------------------------------------------------------

    def _dev_bootstrap(self) -> None:
        key_file = self.settings.data_dir / DEV_KEY_FILE
        print(
            "WARNING: dev mode. The root key is stored IN CLEAR in "
            f"{key_file}. Never use dev mode for real data.",
            file=sys.stderr,
            flush=True,
        )
        wanted = (
            self.settings.dev_root_token.get_secret_value()
            if self.settings.dev_root_token is not None
            else None
        )
        cfg = self.seal_config()
        if cfg is None:
            root = RootKey.generate()
            _write_private(key_file, root.secret_bytes().hex())
            result = self.initialize(kind="dev", root=root, root_token=wanted)
            if wanted is None:
                print(f"Root token: {result.root_token}", file=sys.stderr, flush=True)
            cfg = self.seal_config()
            if cfg is None:  # pragma: no cover - written just above
                raise StrongroomError("dev initialization did not persist")
        elif cfg.kind != "dev":
            raise InvalidInput(
                "this data dir was initialized for production; start it without --dev"
            )
        try:
            root = RootKey(bytes.fromhex(key_file.read_text().strip()))
        except (OSError, ValueError) as exc:
            raise StrongroomError(f"cannot read the dev key file {key_file}") from exc
        self._finish_unseal(root, cfg)
        if wanted is not None:
            self._ensure_token(wanted)

    def _ensure_token(self, token: str) -> None:
        digest_key = self.token_key()
        with self.db.read() as conn:
            exists = TokenRepository(conn).by_hash(token_hash(digest_key, token)) is not None
        if not exists:
            self.db.write(
                lambda tx: self.tokens.insert_token(
                    tx,
                    tenant=SYSTEM_TENANT,
                    policies=("root",),
                    ttl=0,
                    expires_at=None,
                    display_name="dev root",
                    renewable=False,
                    meta={},
                    parent=None,
                    token=token,
                )
            )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
