"""Shared fixtures: database backends, vault factories, a live server.

PostgreSQL tests use the server at STRONGROOM_TEST_PG (default
127.0.0.1:5432, trust auth, database ``test``) and get one fresh database per
xdist worker; Redis tests use STRONGROOM_TEST_REDIS (default
redis://127.0.0.1:6379/0). When a server is unreachable its tests are
skipped locally, and they FAIL under CI (``CI`` set), so CI cannot go green
without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strongroom.config import Settings
from strongroom.vault import Principal, Vault

PG_ADMIN_DSN = os.environ.get(
    "STRONGROOM_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
ROOT_TOKEN = "strongroom_test_root_token"


def _pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return True
    except Exception:
        return False


def _require_or_skip(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not reachable; CI must run the {what} suite", pytrace=False)
    pytest.skip(f"{what} is not reachable")


REDIS_URL = os.environ.get("STRONGROOM_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server's URL (skipped locally, a failure under CI, when it does not answer)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError:
        _require_or_skip("Redis")
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Callable[[], str]]:
    """Factory of fresh PostgreSQL databases (SQLAlchemy URLs), dropped at the end."""
    if not _pg_reachable():
        _require_or_skip("PostgreSQL")
    import psycopg

    created: list[str] = []

    def make() -> str:
        name = f"sr_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
        host, port, user = params.get("host"), params.get("port", "5432"), params.get("user")
        return f"postgresql+psycopg://{user}@{host}:{port}/{name}"

    yield make
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'strongroom.db'}"
    make: Callable[[], str] = request.getfixturevalue("pg_server")
    return make()


@pytest.fixture
def make_vault(tmp_path: Path) -> Iterator[Callable[..., Vault]]:
    """Factory: an opened dev-mode vault (unsealed, root token ROOT_TOKEN)."""
    opened: list[Vault] = []

    def make(database_url: str | None = None, **overrides: object) -> Vault:
        data_dir = tmp_path / f"vault{len(opened)}"
        settings = Settings(
            data_dir=data_dir,
            dev=True,
            dev_root_token=ROOT_TOKEN,  # type: ignore[arg-type]
            database_url=database_url,  # type: ignore[arg-type]
            **overrides,  # type: ignore[arg-type]
        )
        vault = Vault(settings)
        vault.open()
        opened.append(vault)
        return vault

    yield make
    for v in opened:
        v.close()


@pytest.fixture
def vault(make_vault: Callable[..., Vault]) -> Vault:
    """An unsealed dev vault on SQLite."""
    return make_vault()


@pytest.fixture
def root(vault: Vault) -> Principal:
    """The root principal of ``vault``."""
    return vault.tokens.authenticate(ROOT_TOKEN)
