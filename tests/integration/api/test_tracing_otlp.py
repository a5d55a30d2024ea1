"""Traces leave a real server over OTLP/HTTP to a receiver, continuing the caller's trace."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from tests.support.server import start_server

ROOT = "strongroom_test_root_token"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class Receiver:
    """An OTLP/HTTP trace receiver on loopback: decodes every export into plain dicts."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = ExportTraceServiceRequest()
                req.ParseFromString(body)
                for rs in req.resource_spans:
                    service = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            receiver.spans.append(
                                {
                                    "name": sp.name,
                                    "trace_id": sp.trace_id.hex(),
                                    "span_id": sp.span_id.hex(),
                                    "parent": sp.parent_span_id.hex(),
                                    "kind": sp.kind,
                                    "attributes": {
                                        a.key: str(a.value).strip() for a in sp.attributes
                                    },
                                    "service": service.get("service.name"),
                                }
                            )
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_spans_reach_the_collector_and_continue_the_callers_trace(
    receiver: Receiver, tmp_path: Path
) -> None:
    srv = start_server(
        tmp_path / "data",
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"},
    )
    try:
        headers = {"X-Strongroom-Token": ROOT}
        assert httpx.put(
            f"{srv.url}/v1/secret/data/ward-7/patient-jane", json={"data": {"k": "v"}},
            headers=headers,
        ).is_success  # fmt: skip
        parent = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", **headers}
        assert httpx.get(f"{srv.url}/v1/secret/data/ward-7/patient-jane", headers=parent).is_success
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(s["name"] == "crypto open" for s in receiver.spans):
                break
            time.sleep(0.1)
    finally:
        srv.stop()
    spans = receiver.spans
    ours = [s for s in spans if s["trace_id"] == TRACE_ID]
    names = {s["name"] for s in ours}
    assert "HTTP GET /v1/{mount}/data/{path:path}" in names, sorted({s["name"] for s in spans})
    assert {"vault kv:record:read", "crypto open", "ledger append"} <= names
    http = next(s for s in ours if s["name"].startswith("HTTP GET"))
    assert http["parent"] == "00f067aa0ba902b7" and http["service"] == "strongroom"
    assert http["attributes"]["http.route"].find("{path:path}") >= 0
    # Names and attributes hold templates and event names, never the path.
    assert "patient-jane" not in repr(spans) and ROOT not in repr(spans)
