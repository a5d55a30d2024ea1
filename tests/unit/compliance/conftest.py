"""A vault that passes every control, and the means to break one thing at a time.

``compliant`` builds a production-like vault (Shamir 2-of-3, TLS, PCI
lockout, syslog copy, a scheduled backup, a data
subject, a signed checkpoint) on a fake clock; each test then turns one
fact off and gathers the facts again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI

from strongroom.api.app import create_app
from strongroom.api.routes.backup import scheduler_for
from strongroom.api.routes.compliance import route_inventory
from strongroom.compliance.evidence import gather
from strongroom.compliance.facts import Facts, Route
from strongroom.config import Settings
from strongroom.vault import Principal, Vault

# The data subject rights routes the GDPR controls look for (by audit event).
RIGHTS = {
    "sys:subject:erase": ("POST", "/v1/sys/subjects/{subject_id}/erase"),
    "sys:subject:export": ("POST", "/v1/sys/subjects/{subject_id}/export"),
    "sys:subject:report": ("GET", "/v1/sys/subjects/{subject_id}/access-report"),
}


PASSPHRASE = "correct horse battery staple"


class FakeClock:
    """A clock that stands still until moved."""

    def __init__(self) -> None:
        import time

        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def write_tls_pair(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its unencrypted key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Env:
    """One vault under test, its app, its root token and its clock."""

    vault: Vault
    app: FastAPI
    token: str
    clock: FakeClock
    data_dir: Path
    extra_routes: list[Route] = field(default_factory=list)

    @property
    def root(self) -> Principal:
        return self.vault.tokens.authenticate(self.token)

    def routes(self) -> list[Route]:
        """The app's routes, plus the subject rights routes if the app does not serve them."""
        routes = list(route_inventory(self.app))
        have = {r.event for r in routes}
        for event, (method, path) in RIGHTS.items():
            if event not in have:
                routes.append(Route(method, path, event=event, authenticated=True))
        return routes + self.extra_routes

    def backup(self) -> None:
        """Take a backup as the scheduler does (its sys:backup:create entry included)."""
        scheduler = scheduler_for(self.vault)
        assert scheduler is not None and scheduler.run_once() is not None

    def sign(self) -> None:
        """Sign a checkpoint of everything logged so far."""
        self.vault.audit.checkpoint_now()

    def facts(self, *, routes: list[Route] | None = None) -> Facts:
        return gather(self.vault, routes=self.routes() if routes is None else routes)

    def sql(self, statement: str, **params: Any) -> None:
        from sqlalchemy import text

        with self.vault.db.engine.begin() as conn:
            conn.execute(text(statement), params)


@pytest.fixture
def compliant(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    """Factory: a vault whose report is all ``pass``; keyword arguments override settings
    (``seal="dev"`` or ``"passphrase"``, ``threshold=1`` for a 1-of-N Shamir seal,
    ``backup=False`` for a vault never backed up)."""
    made: list[Env] = []

    def make(
        *, seal: str = "shamir", threshold: int = 2, backup: bool = True, **overrides: Any
    ) -> Env:
        data_dir = tmp_path / f"vault{len(made)}"
        data_dir.mkdir()
        cert, key = write_tls_pair(data_dir)
        base: dict[str, Any] = {
            "data_dir": data_dir,
            "tls_cert_file": cert,
            "tls_key_file": key,
            "lockout_threshold": 5,
            "lockout_base_s": 1800.0,
            "audit_syslog": "udp://127.0.0.1:9",
            "backup_interval_s": 86400.0,
        }
        if seal == "dev":
            base |= {"dev": True, "dev_root_token": "strongroom_test_root_token"}
        settings = Settings(**(base | overrides))
        clock = FakeClock()
        vault = Vault(settings, clock=clock)
        vault.open()
        if seal == "dev":
            token = "strongroom_test_root_token"
        elif seal == "passphrase":
            token = vault.initialize(passphrase_text=PASSPHRASE).root_token
            vault.unseal_passphrase(PASSPHRASE)
        else:
            init = vault.initialize(shares=3 if threshold > 1 else 1, threshold=threshold)
            for share in init.shares[:threshold]:
                vault.submit_share(share)
            token = init.root_token
        app = create_app(settings, vault=vault)
        env = Env(vault, app, token, clock, data_dir)
        made.append(env)
        if backup:
            env.backup()
        subject = vault.subjects.create(env.root, reference="MRN-0001")
        vault.kv.put(env.root, "secret", "app/db", {"password": "s3cr3t"})
        vault.kv.put(env.root, "secret", "patients/1", {"dx": "J45"}, subject=subject.id)
        # Storage limitation and records of processing: a rule with its purpose, applied.
        vault.retention.put_rule(
            env.root,
            "patients",
            mount="secret",
            path_prefix="patients/",
            action="erase-subjects",
            after_s=10 * 365 * 86400.0,
            purpose="treatment",
        )
        vault.retention.apply(None)
        env.sign()
        return env

    yield make
    for env in made:
        env.vault.close()
