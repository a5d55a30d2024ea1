"""A live dev server for the HTTP tests of this package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.server import LiveServer, start_server

ROOT = "strongroom_test_root_token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(
        tmp_path_factory.mktemp("api") / "data", env={"STRONGROOM_MAX_PAYLOAD_BYTES": "65536"}
    )
    yield srv
    srv.stop()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-Strongroom-Token": ROOT}, timeout=30) as c:
        yield c


@pytest.fixture
def anon(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    srv = start_server(tmp_path / "data", dev=False)
    yield srv
    srv.stop()
