"""Errors: exit codes, one-line diagnostics, and the HTTP client's error mapping."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pytest

from strongroom import errors
from strongroom.api.problems import PROBLEM_TYPE_BASE as API_PROBLEM_TYPE_BASE
from strongroom.cli.client import PROBLEM_TYPE_BASE, TOKEN_HEADER, Client, error_from_problem


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestErrors:
    def test_bad_token_exits_4(self, cli, one_line_error):
        result = cli.with_token("strongroom_not_a_real_token")("kv", "get", "secret/app/db")
        assert one_line_error(result, 4).startswith("Error: Authentication required")

    def test_no_token_exits_4(self, cli, one_line_error):
        one_line_error(cli.with_token(None)("kv", "list", "secret"), 4)

    def test_server_down_exits_5(self, cli, one_line_error):
        addr = f"http://127.0.0.1:{_closed_port()}"
        line = one_line_error(cli("kv", "get", "secret/app/db", addr=addr), 5)
        assert line.startswith("Error: Service unavailable: cannot reach the server")
        one_line_error(cli("status", addr=addr), 5)

    def test_global_options_before_the_command(self, cli, one_line_error):
        addr = f"http://127.0.0.1:{_closed_port()}"
        one_line_error(cli("--addr", addr, "status"), 5)
        # A command's own flag wins over the global one.
        assert cli("--addr", addr, "status", "--addr", cli.addr).returncode == 0
        one_line_error(cli("--token", "strongroom_bad", "kv", "list", "secret"), 4)

    def test_bad_address_is_a_usage_error(self, cli, one_line_error):
        one_line_error(cli("status", addr="ftp://example"), 2)

    def test_usage_errors_exit_2(self, cli):
        assert cli("no-such-command").returncode == 2
        assert cli("kv", "put", "secret/app/db").returncode == 2
        assert cli("kv", "get", "secret/app/db", "--format", "xml").returncode == 2
        assert cli("keys", "retire").returncode == 2

    def test_stdin_must_be_utf8(self, cli, one_line_error):
        result = subprocess.run(
            [sys.executable, "-m", "strongroom.cli.main", "kv", "put", "secret/x", "a=-"],
            input=b"\xff\xfe",
            capture_output=True,
            env={**os.environ, "STRONGROOM_ADDR": cli.addr, "STRONGROOM_TOKEN": "x"},
            timeout=60,
            check=False,
        )
        stderr = result.stderr.decode()
        assert result.returncode == 2, stderr
        assert stderr.strip() == "Error: Invalid input: stdin is not UTF-8 text"

    def test_version(self, cli):
        assert cli.ok("--version").startswith("strongroom ")


class TestClient:
    def test_problem_type_base_matches_the_api(self):
        assert PROBLEM_TYPE_BASE == API_PROBLEM_TYPE_BASE

    @pytest.mark.parametrize(
        "cls",
        [
            errors.InvalidInput,
            errors.Unauthenticated,
            errors.PermissionDenied,
            errors.NotFound,
            errors.Conflict,
            errors.PayloadTooLarge,
            errors.Unavailable,
            errors.Sealed,
            errors.NotInitialized,
            errors.StorageUnavailable,
            errors.AuditUnavailable,
            errors.KeyUnavailable,
            errors.DecryptionFailed,
            errors.IntegrityViolation,
            errors.ProofInvalid,
            errors.StrongroomError,
        ],
    )
    def test_every_slug_maps_to_its_class(self, cls):
        body = {
            "type": PROBLEM_TYPE_BASE + cls.slug,
            "title": cls.title,
            "status": cls.status_code,
            "detail": "why",
            "request_id": "r1",
        }
        err = error_from_problem(cls.status_code, body)
        assert type(err) is cls
        assert err.exit_code == cls.exit_code
        assert err.detail == "why"
        assert err.extra == {"request_id": "r1"}

    @pytest.mark.parametrize(
        ("status", "cls"),
        [
            (400, errors.InvalidInput),
            (401, errors.Unauthenticated),
            (404, errors.NotFound),
            (409, errors.Conflict),
            (502, errors.Unavailable),
            (405, errors.StrongroomError),
        ],
    )
    def test_unknown_types_fall_back_on_the_status(self, status, cls):
        err = error_from_problem(status, "<html>bad gateway</html>")
        assert type(err) is cls
        assert str(status) in err.detail

    def test_token_goes_in_a_header_never_the_url(self):
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"data": {}})

        with Client(
            "http://vault.test", "strongroom_secret", transport=httpx.MockTransport(handler)
        ) as client:
            client.get("/v1/secret/data/app", params={"version": 2, "skip": None})
        (request,) = seen
        assert request.headers[TOKEN_HEADER] == "strongroom_secret"
        assert "strongroom_secret" not in str(request.url)
        assert str(request.url) == "http://vault.test/v1/secret/data/app?version=2"

    def test_problem_responses_raise(self):
        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                409,
                json={"type": PROBLEM_TYPE_BASE + "conflict", "status": 409, "detail": "in use"},
                headers={"content-type": "application/problem+json"},
            )

        client = Client("http://vault.test", transport=httpx.MockTransport(handler))
        with client, pytest.raises(errors.Conflict, match="in use"):
            client.post("/v1/sys/keys/retire", {"version": 1})

    def test_transport_errors_become_unavailable(self):
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectTimeout("timed out", request=request)

        client = Client("http://vault.test", transport=httpx.MockTransport(handler))
        with client, pytest.raises(errors.Unavailable, match="cannot reach"):
            client.get("/v1/sys/seal-status")

    def test_token_must_be_printable_ascii(self):
        with pytest.raises(errors.InvalidInput):
            Client("http://vault.test", "strongroom_tök")
        with pytest.raises(errors.InvalidInput):
            Client("http://vault.test", "strongroom_a\x00b")

    def test_credentials_in_the_address_are_never_shown(self):
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        client = Client(
            "http://user:hunter2@vault.test:8200", transport=httpx.MockTransport(handler)
        )
        with client, pytest.raises(errors.Unavailable) as info:
            client.get("/v1/sys/seal-status")
        assert "hunter2" not in info.value.diagnostics()
        assert "http://vault.test:8200" in info.value.diagnostics()

    def test_no_content_is_an_empty_object(self):
        transport = httpx.MockTransport(lambda request: httpx.Response(204))
        with Client("http://vault.test", transport=transport) as client:
            assert client.delete("/v1/sys/policies/acl/x") == {}
