"""The HTTP API over a real socket: status codes, problem documents, seal behaviour."""

from __future__ import annotations

import httpx
from tests.support.server import LiveServer

PROBLEM = "application/problem+json"


def _is_problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["type"].startswith("urn:strongroom:problem:")
    assert "Traceback" not in r.text
    return body  # type: ignore[no-any-return]


class TestProbes:
    def test_health_live_ready(self, anon: httpx.Client) -> None:
        assert anon.get("/v1/sys/health").status_code == 200
        assert anon.get("/livez").status_code == 200
        assert anon.get("/readyz").json()["status"] == "ok"
        assert anon.get("/v1/sys/health", params={"activecode": 299}).status_code == 299

    def test_security_headers_and_request_id(self, anon: httpx.Client) -> None:
        r = anon.get("/livez", headers={"X-Request-Id": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"


class TestKV:
    def test_round_trip(self, client: httpx.Client) -> None:
        r = client.put("/v1/secret/data/app/db", json={"data": {"password": "s3cr3t"}})
        assert r.status_code == 200 and r.json()["data"]["version"] >= 1
        r = client.get("/v1/secret/data/app/db")
        assert r.json()["data"]["data"] == {"password": "s3cr3t"}

    def test_cas_conflict_is_409(self, client: httpx.Client) -> None:
        client.put("/v1/secret/data/cas/x", json={"data": {"k": "v"}})
        body = _is_problem(
            client.put("/v1/secret/data/cas/x", json={"data": {"k": "v"}, "options": {"cas": 0}}),
            409,
        )
        assert body["current_version"] == 1

    def test_payload_limit_is_413(self, client: httpx.Client) -> None:
        big = {"data": {"k": "x" * 200_000}}
        _is_problem(client.put("/v1/secret/data/big", json=big), 413)

    def test_oversized_headers_are_431(self, client: httpx.Client) -> None:
        body = _is_problem(client.get("/v1/sys/mounts", headers={"X-Big": "x" * 20_000}), 431)
        assert body["type"].endswith("headers-too-large")
        many = {f"X-H{i}": "v" for i in range(120)}
        _is_problem(client.get("/v1/sys/mounts", headers=many), 431)
        _is_problem(client.get("/v1/sys/mounts", params={"q": "y" * 20_000}), 431)
        # Ordinary requests are untouched, and the refusals were audited.
        assert client.get("/v1/sys/mounts").status_code == 200
        found = client.get("/v1/audit/search", params={"outcome": "error", "limit": 1000}).json()[
            "entries"
        ]
        assert sum(e["entry"].get("reason") == "headers-too-large" for e in found) == 3

    def test_payload_limit_applies_to_chunked_bodies(self, client: httpx.Client) -> None:
        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"data": {"k": "'
            for _ in range(40):
                yield b"x" * 10_000
            yield b'"}}'

        r = client.put(
            "/v1/secret/data/big2", content=chunks(), headers={"content-type": "application/json"}
        )
        _is_problem(r, 413)

    def test_value_limit_below_body_limit_is_413(self, client: httpx.Client) -> None:
        _is_problem(client.put("/v1/secret/data/big3", json={"data": {"k": "x" * 70_000}}), 413)

    def test_absent_and_not_yours_look_the_same(self, client: httpx.Client) -> None:
        client.put("/v1/secret/data/hidden/x", json={"data": {"k": "v"}})
        client.put(
            "/v1/sys/policies/acl/narrow",
            json={"policy": '{"rules": [{"path": "secret/open/*", "capabilities": ["read"]}]}'},
        )
        token = client.post("/v1/auth/token/create", json={"policies": ["narrow"]}).json()["auth"][
            "client_token"
        ]
        h = {"X-Strongroom-Token": token}
        a = _is_problem(client.get("/v1/secret/data/hidden/x", headers=h), 404)
        b = _is_problem(client.get("/v1/secret/data/hidden/absent", headers=h), 404)
        a.pop("request_id")
        b.pop("request_id")
        assert a == b

    def test_bad_input_is_400_problem_without_echo(self, client: httpx.Client) -> None:
        r = client.put(
            "/v1/secret/data/x",
            content=b'{"data": "SECRET-VALUE-123"',
            headers={"content-type": "application/json"},
        )
        body = _is_problem(r, 400)
        assert "SECRET-VALUE-123" not in str(body)
        body = _is_problem(client.put("/v1/secret/data/x", json={"data": "SECRET-VALUE-123"}), 400)
        assert "SECRET-VALUE-123" not in str(body)

    def test_unknown_route_and_method(self, client: httpx.Client) -> None:
        _is_problem(client.get("/v1/nothing-here"), 404)
        _is_problem(client.patch("/v1/sys/health"), 405)

    def test_no_token_is_401(self, anon: httpx.Client) -> None:
        _is_problem(anon.get("/v1/secret/data/app/db"), 401)
        r = anon.get("/v1/secret/data/app/db", headers={"Authorization": "Bearer strongroom_nope"})
        _is_problem(r, 401)

    def test_list_and_metadata(self, client: httpx.Client) -> None:
        for p in ("ls/a", "ls/b/c"):
            client.put(f"/v1/secret/data/{p}", json={"data": {"k": "v"}})
        r = client.get("/v1/secret/metadata/ls/", params={"list": "true"})
        assert r.json()["data"]["keys"] == ["a", "b/"]
        r = client.get("/v1/secret/metadata/ls/a")
        assert r.json()["data"]["current_version"] == 1

    def test_delete_undelete_destroy(self, client: httpx.Client) -> None:
        client.put("/v1/secret/data/life", json={"data": {"k": "1"}})
        assert client.delete("/v1/secret/data/life").status_code == 204
        _is_problem(client.get("/v1/secret/data/life"), 404)
        assert client.post("/v1/secret/undelete/life", json={"versions": [1]}).status_code == 204
        assert client.get("/v1/secret/data/life").status_code == 200
        assert client.put("/v1/secret/destroy/life", json={"versions": [1]}).status_code == 204
        _is_problem(client.get("/v1/secret/data/life"), 404)


class TestOpenAPI:
    def test_every_operation_declares_its_errors(self, anon: httpx.Client) -> None:
        doc = anon.get("/openapi.json").json()
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                codes = set(op["responses"])
                assert codes & {"200", "202", "204"}, (method, path)
                if path not in ("/livez", "/readyz", "/v1/sys/health"):
                    assert {"400", "500", "503"} <= codes, (method, path)


class TestSealed:
    def test_sealed_answers_503_on_every_data_path(self, fresh_server: LiveServer) -> None:
        with httpx.Client(base_url=fresh_server.url, timeout=30) as c:
            assert c.get("/v1/sys/health").status_code == 501
            _is_problem(
                c.get("/v1/secret/data/x", headers={"X-Strongroom-Token": "strongroom_x"}), 503
            )
            init = c.post("/v1/sys/init", json={"secret_shares": 3, "secret_threshold": 2}).json()
            _is_problem(c.post("/v1/sys/init", json={}), 409)
            token = init["root_token"]
            h = {"X-Strongroom-Token": token}
            assert c.get("/v1/sys/health").status_code == 503
            doc = c.get("/openapi.json").json()
            for path, ops in doc["paths"].items():
                if path.startswith("/v1/sys/") and path.split("/")[3] in (
                    "health",
                    "seal-status",
                    "init",
                    "unseal",
                ):
                    continue
                if path in ("/livez", "/readyz"):
                    continue
                concrete = (
                    path.replace("{mount}", "secret")
                    .replace("{path}", "a/b")
                    .replace("{name}", "n")
                )
                for method in ops:
                    r = c.request(method.upper(), concrete, headers=h, json={})
                    _is_problem(r, 503)
            assert c.post("/v1/sys/unseal", json={"key": init["keys"][0]}).json()["progress"] == 1
            assert c.post("/v1/sys/unseal", json={"key": init["keys"][2]}).json()["sealed"] is False
            assert (
                c.put("/v1/secret/data/x", headers=h, json={"data": {"k": "v"}}).status_code == 200
            )
            assert c.post("/v1/sys/seal", headers=h).status_code == 204
            _is_problem(c.get("/v1/secret/data/x", headers=h), 503)
            assert c.get("/readyz").status_code == 503


class TestNoSecretsInLogs:
    def test_canary_never_reaches_the_server_log(
        self, client: httpx.Client, server: LiveServer
    ) -> None:
        canary = "CANARY-9f3e1c-secret-value"
        client.put("/v1/secret/data/canary", json={"data": {"v": canary}})
        assert client.get("/v1/secret/data/canary").json()["data"]["data"]["v"] == canary
        # Error paths too: malformed bodies, CAS conflicts, bad tokens.
        client.put("/v1/secret/data/canary", content=f'{{"data": "{canary}'.encode())
        client.put("/v1/secret/data/canary", json={"data": {"v": canary}, "options": {"cas": 0}})
        client.get("/v1/secret/data/canary", headers={"X-Strongroom-Token": canary})
        client.put("/v1/secret/data/x", json={"data": {"v": canary * 10_000}})
        log = server.log.read_text(errors="replace")
        assert canary not in log
        assert "strongroom_test_root_token" not in log
