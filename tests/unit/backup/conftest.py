"""Backup fixtures: a real S3 HTTP API on loopback (moto's server), and targets on it.

The S3 tests talk HTTP to ``moto.server.ThreadedMotoServer`` bound to
127.0.0.1 on a free port: the boto3 client, its signing, retries and error
parsing all run for real. Fake credentials are set in the environment of
each test only (the standard AWS chain is what :class:`S3Target` uses), and
the chain is fenced off from the machine's own ``~/.aws`` and from the
instance metadata service.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from strongroom.backup import LocalTarget, S3Target, Target

BUCKET = "strongroom-test"
REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Anything else in the environment that would steer the AWS chain away from
# the fake credentials or the loopback endpoint.
_AWS_NOISE = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


class MotoS3:
    """A running moto server: its endpoint, and a boto3 client for test set-up."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client: Any = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=REGION,
        ).client(
            "s3",
            endpoint_url=endpoint,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )


def _serve(app: Any) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` on 127.0.0.1 on a free port; return its URL and a stop function."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join()

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """moto's S3 server on loopback with the bucket ``BUCKET``, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = MotoS3(f"http://{host}:{port}")
    s3.client.create_bucket(Bucket=BUCKET)
    yield s3
    server.stop()


def _refuse_conditional_puts(app: Any) -> Any:
    """Wrap moto's WSGI app to answer a conditional PUT as S3 did before August 2024."""

    def legacy(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "PUT" and "HTTP_IF_NONE_MATCH" in environ:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code>'
                b"<Message>A header you provided implies functionality that is not "
                b"implemented</Message><Header>If-None-Match</Header></Error>"
            )
            headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
            start_response("501 Not Implemented", headers)
            return [body]
        return app(environ, start_response)

    return legacy


@pytest.fixture(scope="session")
def legacy_s3_endpoint(moto_s3: MotoS3) -> Iterator[str]:
    """A second endpoint on the same moto store that does not implement conditional puts."""
    url, stop = _serve(_refuse_conditional_puts(DomainDispatcherApplication(create_backend_app)))
    yield url
    stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials in this test's environment, and nothing else of AWS's."""
    for name in _AWS_NOISE:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


_PREFIXES = itertools.count()


@pytest.fixture
def make_s3_target(moto_s3: MotoS3, aws_env: None) -> Callable[..., S3Target]:
    """Factory: an S3Target on the moto server under a prefix no other test uses."""

    def make(prefix: str | None = None, **kwargs: Any) -> S3Target:
        kwargs.setdefault("endpoint_url", moto_s3.endpoint)
        kwargs.setdefault("region", REGION)
        if prefix is None:
            prefix = f"t{next(_PREFIXES)}"
        return S3Target(BUCKET, prefix, **kwargs)

    return make


@pytest.fixture(params=["local", "s3"])
def make_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Target]]:
    """Factory of empty targets, once with LocalTarget and once with S3Target."""
    if request.param == "local":
        counter = itertools.count()
        yield lambda: LocalTarget(tmp_path / f"target{next(counter)}")
    else:
        make: Callable[..., S3Target] = request.getfixturevalue("make_s3_target")
        yield make
