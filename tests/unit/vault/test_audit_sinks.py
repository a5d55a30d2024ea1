"""Audit copies for SIEMs: JSON lines and RFC 5424 syslog over real sockets."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.errors import InvalidInput
from strongroom.vault import Vault
from strongroom.vault.audit_sinks import JsonLinesSink, SinkPump, SyslogSink, syslog_message

ENTRY = (
    b'{"event":"kv:record:read","outcome":"denied","seq":7,"time":"2026-12-01T09:00:00.000001Z"}'
)

# RFC 5424 §6: HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
_HEADER = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\d+) (\S+) - \xef\xbb\xbf(.*)$", re.S)


class TestSyslogMessage:
    def test_rfc5424_fields(self) -> None:
        msg = syslog_message(ENTRY, hostname="vault 1", time="2026-12-01T09:00:00.000001Z")
        m = _HEADER.match(msg)
        assert m is not None, msg
        pri, when, host, app, _pid, msgid, body = m.groups()
        # authpriv (10) * 8 + warning (4) for a denial.
        assert int(pri) == 84 and when == b"2026-12-01T09:00:00.000001Z"
        assert host == b"vault1" and app == b"strongroom" and msgid == b"kv:record:read"
        assert body == ENTRY


class TestSyslogSink:
    def test_udp(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
            rx.bind(("127.0.0.1", 0))
            rx.settimeout(10)
            sink = SyslogSink(f"udp://127.0.0.1:{rx.getsockname()[1]}")
            sink.emit(ENTRY)
            sink.close()
            data = rx.recv(65536)
        m = _HEADER.match(data)
        assert m is not None and m.group(7) == ENTRY and m.group(2).startswith(b"2026-12-01T09")

    def test_tcp_octet_counting(self) -> None:
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            got: list[bytes] = []

            def accept() -> None:
                conn, _ = srv.accept()
                with conn:
                    buf = b""
                    while chunk := conn.recv(65536):
                        buf += chunk
                    got.append(buf)

            t = threading.Thread(target=accept)
            t.start()
            sink = SyslogSink(f"tcp://127.0.0.1:{srv.getsockname()[1]}")
            sink.emit(ENTRY)
            sink.emit(ENTRY)
            sink.close()
            t.join(10)
        buf = got[0]
        frames = []
        while buf:
            length, _, rest = buf.partition(b" ")
            frames.append(rest[: int(length)])
            buf = rest[int(length) :]
        assert len(frames) == 2 and all(_HEADER.match(f) for f in frames)

    def test_bad_url(self) -> None:
        with pytest.raises(InvalidInput):
            SyslogSink("http://example.org")


class TestJsonLines:
    def test_file_gets_one_line_per_durable_entry(
        self, make_vault: Callable[..., Vault], tmp_path: Path
    ) -> None:
        out = tmp_path / "audit.jsonl"
        vault = make_vault(audit_jsonl=str(out))
        root = vault.tokens.authenticate("strongroom_test_root_token")
        vault.kv.put(root, "secret", "a", {"k": "v"})
        vault.kv.get(root, "secret", "a")
        vault.close()
        lines = out.read_bytes().splitlines()
        events = [json.loads(line)["event"] for line in lines]
        assert "kv:record:read" in events
        assert oct(out.stat().st_mode & 0o777) == "0o600"

    def test_pump_survives_a_failing_sink(self, tmp_path: Path) -> None:
        class Broken:
            def emit(self, entry: bytes) -> None:
                raise OSError("receiver down")

            def close(self) -> None:
                pass

        out = tmp_path / "x.jsonl"
        pump = SinkPump([Broken(), JsonLinesSink(str(out))])
        pump.put(ENTRY)
        pump.close()
        assert out.read_bytes() == ENTRY + b"\n"
