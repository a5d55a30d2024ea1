"""The access line: the same JSON as the standard-library path, redacted, level-filtered."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from strongroom.observability.logging import ACCESS_LOG, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    logging.getLogger().handlers.clear()
    structlog.reset_defaults()


class TestAccessLog:
    def test_same_line_as_the_stdlib_path(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging(fmt="json", level="info")
        fields = {"method": "GET", "route": "/v1/x", "status": 200, "note": "call +14155552671"}
        with structlog.contextvars.bound_contextvars(request_id="r-1"):
            ACCESS_LOG.info("request", **fields)
            structlog.get_logger("strongroom.access").info("request", **fields)
        direct, via_stdlib = (json.loads(x) for x in capsys.readouterr().err.splitlines())
        direct.pop("timestamp")
        via_stdlib.pop("timestamp")
        assert direct == via_stdlib
        assert direct["request_id"] == "r-1" and direct["logger"] == "strongroom.access"
        assert direct["note"] == "call [redacted:phone]"

    def test_dropped_below_the_level(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging(fmt="json", level="warning")
        ACCESS_LOG.info("request", method="GET")
        assert capsys.readouterr().err == ""

    def test_literal_secrets_are_redacted(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging(fmt="json", level="info", secrets=["hunter2-literal-secret"])
        ACCESS_LOG.info("request", route="/v1/hunter2-literal-secret")
        assert "hunter2" not in capsys.readouterr().err
