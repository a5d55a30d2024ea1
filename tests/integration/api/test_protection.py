"""Rate limits, lockouts and CORS on real servers; shared limits through the real Redis."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.support.server import LiveServer, start_server

ROOT = "strongroom_test_root_token"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(dev: bool = True, **env: str) -> LiveServer:
        srv = start_server(tmp_path / f"data{len(started)}", dev=dev, env=env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def _get(srv: LiveServer, token: str | None = ROOT, path: str = "/v1/sys/mounts") -> httpx.Response:
    headers = {"X-Strongroom-Token": token} if token else {}
    return httpx.get(srv.url + path, headers=headers, timeout=30)


def _metric(srv: LiveServer, token: str, name: str, **labels: str) -> float:
    text = _get(srv, token, "/v1/sys/metrics").text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def _scraper(srv: LiveServer) -> str:
    doc = json.dumps({"rules": [{"path": "sys/metrics", "capabilities": ["read"]}]})
    with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": ROOT}) as c:
        assert c.put("/v1/sys/policies/acl/scraper", json={"policy": doc}).is_success
        return str(
            c.post("/v1/auth/token/create", json={"policies": ["scraper"]}).json()["auth"][
                "client_token"
            ]
        )


def _is_429(r: httpx.Response, max_wait: int) -> int:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:strongroom:problem:rate-limited"
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= max_wait
    # Refused at the door, but still with the security headers.
    assert r.headers["x-content-type-options"] == "nosniff"
    return wait


def test_per_token_limit_answers_429_with_retry_after(serve: Callable[..., LiveServer]) -> None:
    srv = serve(STRONGROOM_RATE_LIMIT_PER_TOKEN="6/minute")
    scraper = _scraper(srv)  # two of root's six
    codes = [_get(srv).status_code for _ in range(4)]
    assert codes == [200] * 4
    _is_429(_get(srv), 60)
    # Another token is not held back by root's count.
    assert _get(srv, scraper, "/v1/sys/metrics").status_code == 200
    assert _metric(srv, scraper, "strongroom_rate_limited_total", scope="token") >= 1


def test_per_address_limit(serve: Callable[..., LiveServer]) -> None:
    srv = serve(STRONGROOM_RATE_LIMIT_PER_IP="5/minute", STRONGROOM_RATE_LIMIT_PER_TOKEN="")
    assert [_get(srv, None, "/v1/sys/seal-status").status_code for _ in range(5)] == [200] * 5
    _is_429(_get(srv, ROOT), 60)  # the address is over, whatever the token
    assert _get(srv, None, "/livez").status_code == 200  # probes are never held back


def test_lockout_after_failed_logins_then_expiry_then_doubling(
    serve: Callable[..., LiveServer],
) -> None:
    srv = serve(STRONGROOM_LOCKOUT_THRESHOLD="3", STRONGROOM_LOCKOUT_BASE_S="2")
    assert [_get(srv, f"strongroom_bad_{i}").status_code for i in range(3)] == [401] * 3
    # Locked out: even the right token is turned away, for the first period.
    wait = _is_429(_get(srv), 2)
    time.sleep(wait + 0.2)
    assert _get(srv).status_code == 200
    found = httpx.get(
        srv.url + "/v1/audit/search",
        params={"event": "auth:client:lockout"},
        headers={"X-Strongroom-Token": ROOT},
    ).json()["entries"]
    assert len(found) == 1 and found[0]["entry"]["outcome"] == "denied"
    assert found[0]["entry"]["details"]["seconds"] == 2
    assert "127.0.0.1" not in json.dumps(found)  # the address only as a keyed hash
    # A second lockout within the day lasts twice as long.
    assert [_get(srv, f"strongroom_bad_{i}").status_code for i in range(3)] == [401] * 3
    assert 2 < _is_429(_get(srv), 4) <= 4


def test_token_lookups_that_miss_lock_out(serve: Callable[..., LiveServer]) -> None:
    srv = serve(STRONGROOM_LOCKOUT_THRESHOLD="3", STRONGROOM_LOCKOUT_BASE_S="30")
    with httpx.Client(base_url=srv.url, headers={"X-Strongroom-Token": ROOT}, timeout=30) as c:
        for i in range(3):
            r = c.post("/v1/auth/token/lookup", json={"token": f"strongroom_guess_{i}"})
            assert r.status_code == 404
        # Even a valid caller guessing tokens is turned away for a while.
        _is_429(c.get("/v1/sys/mounts"), 30)


def test_failed_unseal_attempts_lock_out(serve: Callable[..., LiveServer]) -> None:
    srv = serve(dev=False, STRONGROOM_LOCKOUT_THRESHOLD="3", STRONGROOM_LOCKOUT_BASE_S="30")
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        assert c.post("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}).is_success
        codes = [
            c.post("/v1/sys/unseal", json={"key": f"not a share {i}"}).status_code for i in range(3)
        ]
        assert all(code in (400, 403) for code in codes), codes
        _is_429(c.post("/v1/sys/unseal", json={"key": "still guessing"}), 30)


@pytest.mark.redis
def test_limits_are_shared_by_replicas_through_redis(
    serve: Callable[..., LiveServer], redis_url: str
) -> None:
    env = {
        "STRONGROOM_RATE_LIMIT_STORAGE": redis_url,
        "STRONGROOM_RATE_LIMIT_NAMESPACE": f"test-{secrets.token_hex(6)}",
        "STRONGROOM_RATE_LIMIT_PER_TOKEN": "10/minute",
    }
    a, b = serve(**env), serve(**env)
    assert [_get(a).status_code for _ in range(6)] == [200] * 6
    assert [_get(b).status_code for _ in range(4)] == [200] * 4
    _is_429(_get(b), 60)  # B counts A's six: one budget for the deployment
    _is_429(_get(a), 60)


@pytest.mark.redis
def test_lockouts_are_shared_by_replicas_through_redis(
    serve: Callable[..., LiveServer], redis_url: str
) -> None:
    env = {
        "STRONGROOM_RATE_LIMIT_STORAGE": redis_url,
        "STRONGROOM_RATE_LIMIT_NAMESPACE": f"test-{secrets.token_hex(6)}",
        "STRONGROOM_LOCKOUT_THRESHOLD": "4",
    }
    a, b = serve(**env), serve(**env)
    assert [_get(a, "strongroom_bad").status_code for _ in range(2)] == [401, 401]
    assert [_get(b, "strongroom_bad").status_code for _ in range(2)] == [401, 401]
    _is_429(_get(a), 30)


def test_an_unreachable_redis_fails_open_and_is_counted(serve: Callable[..., LiveServer]) -> None:
    srv = serve(STRONGROOM_RATE_LIMIT_STORAGE="redis://127.0.0.1:9/0")
    assert _get(srv).status_code == 200
    assert _metric(srv, ROOT, "strongroom_rate_limit_errors_total") >= 1


def test_cors_is_closed_unless_configured(serve: Callable[..., LiveServer]) -> None:
    preflight = {
        "Origin": "https://console.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-Strongroom-Token",
    }
    closed = serve()
    r = httpx.options(closed.url + "/v1/sys/mounts", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(closed.url + "/v1/sys/mounts", headers={**preflight, "X-Strongroom-Token": ROOT})
    assert "access-control-allow-origin" not in r.headers
    opened = serve(STRONGROOM_CORS_ORIGINS='["https://console.example"]')
    r = httpx.options(opened.url + "/v1/sys/mounts", headers=preflight)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://console.example"
    other = httpx.options(
        opened.url + "/v1/sys/mounts", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
