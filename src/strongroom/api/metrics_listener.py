"""A second listener that serves only ``/metrics``, without a token (``metrics_listen``).

Prometheus deployments often cannot hold a vault token, or scrape over a
network the API is not exposed on. When ``metrics_listen`` is set, a small
threaded HTTP server on that address answers ``GET /metrics`` with the same
exposition as ``/v1/sys/metrics`` and nothing else (404 for any other path,
405 for any other method). The metrics hold counts and route templates,
never a path, principal, token or value, which is what makes serving them
without authentication acceptable; bind it to an internal interface.
Scrapes of this listener are not audited (there is nothing in them to
account for); ``/v1/sys/metrics`` still is.

Example::

    >>> from prometheus_client import CollectorRegistry
    >>> listener = MetricsListener("127.0.0.1:0", CollectorRegistry())
    >>> listener.start(); listener.port > 0
    True
    >>> listener.stop()
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry

from strongroom.observability.metrics import render

__all__ = ["MetricsListener", "parse_address"]


def parse_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a bind address."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class MetricsListener:
    """Serve the metrics of one app on their own address."""

    def __init__(self, address: str, registry: CollectorRegistry) -> None:
        host, port = parse_address(address)
        extra = registry

        class Handler(BaseHTTPRequestHandler):
            server_version = "strongroom-metrics"
            sys_version = ""

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self._plain(404, b"only /metrics is served here\n")
                    return
                body, content_type = render(extra)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self) -> None:
                self._plain(405, b"only GET /metrics is served here\n")

            # http.server dispatches on these names.
            do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

            def _plain(self, status: int, text: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                # Scrapes are routine; the access log is the API's.
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        self._httpd = Server((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="strongroom-metrics-listener", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
