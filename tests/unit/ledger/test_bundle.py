"""Offline audit bundles: format, trusted state, and tamper diagnosis on real signed logs."""

from __future__ import annotations

import base64
import dataclasses
import doctest
import functools
import inspect
import io
import json
import os
import random
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strongroom.crypto import SigningKey
from strongroom.errors import InvalidInput
from strongroom.ledger import bundle as bundle_mod
from strongroom.ledger.bundle import (
    BUNDLE_FORMAT,
    Bundle,
    BundleHeader,
    Finding,
    FindingKind,
    TrustedState,
    VerifyReport,
    load_state,
    read_bundle,
    save_state,
    verify_bundle,
    write_bundle,
)
from strongroom.ledger.checkpoint import Checkpoint, sign_checkpoint, verifier_key_string
from strongroom.ledger.entry import AuditEvent, Event, Outcome
from strongroom.ledger.merkle import Frontier, leaf_hash

ORIGIN = "strongroom.local/test/audit/v1"
KEY = SigningKey(bytes(range(32)))
OTHER_KEY = SigningKey(bytes(range(1, 33)))
T0 = 1_800_000_000_000_000_000
SIZES = (10, 25, 60, 100)
EVENTS = (Event.KV_RECORD_READ, Event.KV_RECORD_WRITE, Event.AUTH_TOKEN_CREATE)

Line = tuple[bytes, bytes]


def vkey(key: SigningKey = KEY) -> str:
    """The verifier key string of ``key`` under ORIGIN."""
    return verifier_key_string(ORIGIN, key.public_key())


def entry(i: int, *, tag: str = "a", seq: int | None = None) -> bytes:
    """Canonical bytes of a realistic entry number ``i`` (``tag`` varies the content)."""
    event = AuditEvent(
        event=EVENTS[i % len(EVENTS)],
        principal=f"acc{i % 7}",
        tenant="default",
        resource=f"secret/{tag}/{i}",
        outcome=Outcome.ALLOWED if i % 5 else Outcome.DENIED,
        request_id=f"req-{tag}-{i}",
        details={"version": i % 3},
    )
    return event.canonical(seq=i if seq is None else seq, time_ns=T0 + i * 1_000_000)


@functools.cache
def entries(n: int, *, fork_at: int | None = None) -> tuple[bytes, ...]:
    """``n`` entries; from ``fork_at`` on, a different history (cached: generation is slow)."""
    return tuple(
        entry(i, tag="b" if fork_at is not None and i >= fork_at else "a") for i in range(n)
    )


def lines_of(raws: tuple[bytes, ...]) -> list[Line]:
    """``(stored leaf hash, entry)`` as the server stores them."""
    return [(leaf_hash(r), r) for r in raws]


def sign_sizes(raws: tuple[bytes, ...], sizes: tuple[int, ...], key: SigningKey = KEY) -> list[str]:
    """Signed checkpoint notes of the tree over ``raws`` at each of ``sizes``."""
    notes = []
    frontier = Frontier()
    for size in sorted(sizes):
        frontier, _ = frontier.extend(leaf_hash(r) for r in raws[frontier.size : size])
        cp = Checkpoint(ORIGIN, size, frontier.root())
        notes.append(sign_checkpoint(cp, key=key, name=ORIGIN).decode())
    return notes


def make_bundle(lines: list[Line], notes: list[str], key: SigningKey = KEY) -> Bundle:
    """A bundle of ``lines`` and ``notes``, its header size fitted to the lines."""
    header = BundleHeader(
        origin=ORIGIN,
        verifier_key=vkey(key),
        size=len(lines),
        checkpoints=tuple(notes),
        exported_at="2027-01-15T10:00:00Z",
    )
    return Bundle(header, lines)


@dataclasses.dataclass
class Log:
    """A clean signed log: its entries, lines and checkpoint notes."""

    raws: tuple[bytes, ...]
    notes: list[str]

    @property
    def lines(self) -> list[Line]:
        """A fresh copy of the bundle lines, to tamper with."""
        return lines_of(self.raws)

    def bundle(self, lines: list[Line] | None = None) -> Bundle:
        """The bundle of ``lines`` (default: the clean ones) with this log's checkpoints."""
        return make_bundle(self.lines if lines is None else lines, self.notes)


@pytest.fixture
def make_log() -> Callable[..., Log]:
    """Factory: ``make_log(n=100, sizes=SIZES, fork_at=None, key=KEY)`` returns a signed log."""

    def make(
        n: int = 100,
        sizes: tuple[int, ...] = SIZES,
        fork_at: int | None = None,
        key: SigningKey = KEY,
    ) -> Log:
        raws = entries(n, fork_at=fork_at)
        return Log(raws, sign_sizes(raws, sizes, key))

    return make


def trusted_state(log: Log) -> TrustedState:
    """The state a verifier saves after checking ``log``'s clean bundle."""
    report = verify_bundle(log.bundle())
    assert report.ok, report.findings
    assert report.trusted is not None
    return report.trusted


# -- Public surface ---------------------------------------------------------------------------


EXPECTED = frozenset(
    {
        "BUNDLE_FORMAT",
        "STATE_FORMAT",
        "Bundle",
        "BundleHeader",
        "Finding",
        "FindingKind",
        "TrustedState",
        "VerifyReport",
        "load_state",
        "read_bundle",
        "save_state",
        "verify_bundle",
        "write_bundle",
    }
)


class TestPublicSurface:
    """``__all__`` is exact, every public name is documented, the module example runs."""

    def test_all_is_exact(self) -> None:
        assert set(bundle_mod.__all__) == EXPECTED
        own = {
            n
            for n, v in vars(bundle_mod).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == bundle_mod.__name__
        }
        assert own <= EXPECTED

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_documented(self, name: str) -> None:
        obj = getattr(bundle_mod, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{name}.{attr}"

    def test_module_example_runs(self) -> None:
        result = doctest.testmod(bundle_mod, verbose=False, report=False)
        assert (result.failed, result.attempted > 10) == (0, True)

    def test_kinds_are_the_documented_strings(self) -> None:
        assert [str(k) for k in FindingKind] == [
            "modified",
            "deleted",
            "inserted",
            "reordered",
            "truncated",
            "forked",
            "bad-signature",
            "key-changed",
        ]


# -- Format -----------------------------------------------------------------------------------


class TestBundleFormat:
    """write_bundle / read_bundle: the documented line format, round trips, malformed files."""

    def test_round_trip_through_a_path(self, make_log: Callable[..., Log], tmp_path: Path) -> None:
        log = make_log()
        original = log.bundle()
        path = tmp_path / "audit.bundle"
        write_bundle(path, original.header, original.entries)
        again = read_bundle(path)
        assert again.header == original.header
        assert list(again.entries) == list(original.entries)

    def test_round_trip_through_a_binary_file(self, make_log: Callable[..., Log]) -> None:
        original = make_log(n=30, sizes=(30,)).bundle()
        buf = io.BytesIO()
        write_bundle(buf, original.header, iter(original.entries))
        assert read_bundle(io.BytesIO(buf.getvalue())) == Bundle(
            original.header, list(original.entries)
        )

    def test_lines_are_as_documented(self, make_log: Callable[..., Log]) -> None:
        original = make_log(n=3, sizes=(3,)).bundle()
        buf = io.BytesIO()
        write_bundle(buf, original.header, original.entries)
        lines = buf.getvalue().split(b"\n")
        assert lines[-1] == b""
        assert len(lines) == 1 + 3 + 1
        header = json.loads(lines[0])
        assert header == {
            "format": BUNDLE_FORMAT,
            "origin": ORIGIN,
            "verifier_key": vkey(),
            "size": 3,
            "checkpoints": list(original.header.checkpoints),
            "exported_at": "2027-01-15T10:00:00Z",
        }
        for line, (stored, raw) in zip(lines[1:4], original.entries, strict=True):
            assert line == base64.b64encode(stored) + b" " + raw

    def test_header_needs_no_format_argument(self) -> None:
        header = BundleHeader(
            origin=ORIGIN,
            verifier_key=vkey(),
            size=0,
            checkpoints=(),
            exported_at="2027-01-15T10:00:00Z",
        )
        assert header.format == BUNDLE_FORMAT

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"format": "strongroom-audit-bundle/v2"}, ValueError),
            ({"origin": ""}, ValueError),
            ({"verifier_key": "nope"}, ValueError),
            ({"size": -1}, ValueError),
            ({"size": True}, TypeError),
            ({"checkpoints": ["a"]}, TypeError),
            ({"checkpoints": ("",)}, ValueError),
            ({"exported_at": "yesterday"}, ValueError),
        ],
    )
    def test_header_validates(self, change: dict[str, Any], error: type[Exception]) -> None:
        fields: dict[str, Any] = {
            "origin": ORIGIN,
            "verifier_key": vkey(),
            "size": 0,
            "checkpoints": (),
            "exported_at": "2027-01-15T10:00:00Z",
        }
        with pytest.raises(error):
            BundleHeader(**{**fields, **change})

    def test_write_refuses_a_wrong_count(self, make_log: Callable[..., Log]) -> None:
        original = make_log(n=5, sizes=(5,)).bundle()
        with pytest.raises(ValueError, match="declares 5 entries, 4 were written"):
            write_bundle(io.BytesIO(), original.header, original.entries[:4])

    @pytest.mark.parametrize("raw", [b"", b'{"a":\n1}', b"x\ry"])
    def test_write_refuses_entries_that_are_not_one_line(self, raw: bytes) -> None:
        header = BundleHeader(
            origin=ORIGIN,
            verifier_key=vkey(),
            size=1,
            checkpoints=(),
            exported_at="2027-01-15T10:00:00Z",
        )
        with pytest.raises(ValueError, match="one non-empty line"):
            write_bundle(io.BytesIO(), header, [(bytes(32), raw)])

    @staticmethod
    def _file(make_log: Callable[..., Log]) -> list[bytes]:
        original = make_log(n=4, sizes=(4,)).bundle()
        buf = io.BytesIO()
        write_bundle(buf, original.header, original.entries)
        return buf.getvalue().split(b"\n")[:-1]

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (lambda ls: [], "line 1: the file is empty"),
            (lambda ls: [b"{not json", *ls[1:]], "line 1: the bundle header is not JSON"),
            (lambda ls: [b"[]", *ls[1:]], "line 1: the bundle header is not a JSON object"),
            (lambda ls: [b'"\xff"', *ls[1:]], "line 1: the bundle header is not UTF-8"),
            (
                lambda ls: [ls[0].replace(b"bundle/v1", b"bundle/v9"), *ls[1:]],
                "line 1: not a strongroom-audit-bundle/v1 bundle",
            ),
            (
                lambda ls: [ls[0].replace(b'"size":4', b'"size":4,"extra":1'), *ls[1:]],
                "line 1: the header members are wrong: extra",
            ),
            (
                lambda ls: [ls[0].replace(b'"size":4', b'"size":"4"'), *ls[1:]],
                "line 1: size must be an int",
            ),
            (
                lambda ls: [ls[0].replace(b"2027-01-15T10:00:00Z", b"soon"), *ls[1:]],
                "line 1: exported_at must be an RFC 3339 timestamp",
            ),
            (
                lambda ls: ls[:-1],
                "line 5: the file ends after 3 entries, but the header declares 4",
            ),
            (lambda ls: [*ls, ls[-1]], "line 6: more lines than the 4 entries"),
            (lambda ls: [*ls[:3], ls[3][:44] + ls[3][45:], ls[4]], "line 4: expected"),
            (lambda ls: [*ls[:2], ls[2][:45], *ls[3:]], "line 3: expected"),
            (lambda ls: [*ls[:2], b"!" + ls[2][1:], *ls[3:]], "line 3: the leaf hash is not"),
            (
                # "B" before "=" sets a padding bit: not canonical base64.
                lambda ls: [*ls[:4], ls[4][:42] + b"B" + ls[4][43:]],
                "line 5: the leaf hash is not canonical",
            ),
        ],
    )
    def test_malformed_lines_are_named(
        self, make_log: Callable[..., Log], edit: Callable[[list[bytes]], list[bytes]], message: str
    ) -> None:
        lines = edit(self._file(make_log))
        data = b"".join(line + b"\n" for line in lines)
        with pytest.raises(InvalidInput, match=message) as info:
            read_bundle(io.BytesIO(data))
        assert "\n" not in str(info.value)

    def test_missing_final_newline(self, make_log: Callable[..., Log]) -> None:
        data = b"\n".join(self._file(make_log))
        with pytest.raises(InvalidInput, match=r"line 5: no final newline"):
            read_bundle(io.BytesIO(data))

    def test_crlf_is_refused(self, make_log: Callable[..., Log]) -> None:
        lines = self._file(make_log)
        data = b"".join(line + b"\n" for line in lines[:2]) + lines[2] + b"\r\n"
        with pytest.raises(InvalidInput, match=r"line 3: carriage return"):
            read_bundle(io.BytesIO(data))


# -- Trusted state ----------------------------------------------------------------------------


class TestTrustedState:
    """TrustedState JSON, and save_state/load_state on disk."""

    STATE = TrustedState(
        origin=ORIGIN, verifier_key=vkey(), size=7, root_hash=bytes(range(32)), note="n\n"
    )

    def test_json_round_trip(self) -> None:
        text = self.STATE.to_json()
        assert json.loads(text)["root_hash"] == base64.b64encode(bytes(range(32))).decode()
        assert TrustedState.from_json(text) == self.STATE

    @pytest.mark.parametrize(
        "text",
        [
            "nope",
            "[]",
            '{"format": "strongroom-audit-state/v1"}',
            json.dumps({**json.loads(STATE.to_json()), "root_hash": "AAAA"}),
            json.dumps({**json.loads(STATE.to_json()), "size": -1}),
        ],
    )
    def test_malformed_json(self, text: str) -> None:
        with pytest.raises(InvalidInput):
            TrustedState.from_json(text)

    def test_save_is_private_and_atomic(self, tmp_path: Path) -> None:
        path = tmp_path / "state" / "audit.json"
        save_state(path, self.STATE)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_state(path) == self.STATE
        bigger = dataclasses.replace(self.STATE, size=8)
        save_state(path, bigger)
        assert load_state(path) == bigger
        assert os.listdir(path.parent) == ["audit.json"]

    def test_load_missing_is_none(self, tmp_path: Path) -> None:
        assert load_state(tmp_path / "absent.json") is None


# -- Verification of intact bundles -----------------------------------------------------------


class TestVerifyIntact:
    """Clean bundles verify, yield the state to save, and later bundles must extend it."""

    def test_clean_bundle(self, make_log: Callable[..., Log]) -> None:
        log = make_log()
        report = verify_bundle(log.bundle())
        assert report.ok
        assert report.findings == []
        assert (report.size, report.verified_size, report.checkpoints) == (100, 100, 4)
        assert report.trusted is not None
        assert report.trusted.size == 100
        assert report.trusted.note == log.notes[-1]
        assert report.trusted.verifier_key == vkey()
        assert any("on first use" in n for n in report.notes)

    def test_extension_verifies_with_the_saved_state(
        self, make_log: Callable[..., Log], tmp_path: Path
    ) -> None:
        path = tmp_path / "state.json"
        first = verify_bundle(make_log(n=60, sizes=(10, 60)).bundle())
        assert first.trusted is not None
        save_state(path, first.trusted)
        later = verify_bundle(make_log().bundle(), state=load_state(path))
        assert later.ok, later.findings
        assert later.trusted is not None
        assert later.trusted.size == 100
        assert not any("on first use" in n for n in later.notes)

    def test_the_same_bundle_again_keeps_the_state(self, make_log: Callable[..., Log]) -> None:
        log = make_log()
        state = trusted_state(log)
        assert verify_bundle(log.bundle(), state=state).trusted == state

    def test_entries_past_the_last_checkpoint_are_unverified(
        self, make_log: Callable[..., Log]
    ) -> None:
        report = verify_bundle(make_log(sizes=(10, 60)).bundle())
        assert report.ok
        assert report.verified_size == 60
        assert any("entries 60..99 (40)" in n and "not covered" in n for n in report.notes)

    def test_pinned_key_and_other_verifiers_notes(self, make_log: Callable[..., Log]) -> None:
        log = make_log()
        report = verify_bundle(
            log.bundle(), verifier_key=vkey(), trusted_notes=[n.encode() for n in log.notes[:2]]
        )
        assert report.ok, report.findings

    def test_unverifiable_peer_note_is_noted_not_fatal(self, make_log: Callable[..., Log]) -> None:
        log = make_log()
        stranger = sign_sizes(log.raws, (10,), OTHER_KEY)[0].encode()
        report = verify_bundle(log.bundle(), trusted_notes=[stranger])
        assert report.ok
        assert any("trusted note #1 ignored" in n for n in report.notes)

    def test_empty_bundle(self) -> None:
        report = verify_bundle(make_bundle([], []))
        assert report.ok
        assert (report.size, report.verified_size, report.trusted) == (0, 0, None)

    def test_state_for_another_log_is_refused(self, make_log: Callable[..., Log]) -> None:
        log = make_log()
        state = dataclasses.replace(trusted_state(log), origin="elsewhere/v1")
        with pytest.raises(InvalidInput, match="for log 'elsewhere/v1'"):
            verify_bundle(log.bundle(), state=state)

    def test_twenty_thousand_entries(self) -> None:
        n = 20_000
        template = entry(0)
        raws = tuple(template.replace(b'"seq":0,', b'"seq":%d,' % i) for i in range(n))
        notes = sign_sizes(raws, (5_000, 12_345, n))
        report = verify_bundle(make_bundle(lines_of(raws), notes))
        assert report.ok
        assert report.verified_size == n
        lines = lines_of(raws)
        lines[15_000] = (lines[15_000][0], lines[15_000][1].replace(b"default", b"defaulT"))
        tampered = verify_bundle(make_bundle(lines, notes))
        assert [(f.kind, f.index) for f in tampered.findings] == [("modified", 15_000)]


class TestFastExtend:
    """The level-by-level tree extension equals Frontier.extend (RFC 9162 §2.1.1)."""

    def test_matches_frontier_extend_for_any_split(self) -> None:
        rng = random.Random(9162)
        leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(700)]
        for _ in range(200):
            a = rng.randrange(0, 400)
            b = rng.randrange(a, 700)
            start, _ = Frontier().extend(leaves[:a])
            expected, _ = Frontier().extend(leaves[:b])
            assert bundle_mod._extend(start, leaves[a:b]) == expected


# -- Tampering --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """A tampered bundle and what the verifier must say about it."""

    name: str
    build: Callable[[Callable[..., Log]], tuple[Bundle, dict[str, Any]]]
    kind: str
    indexes: tuple[int | None, ...]
    span_contains: int | None = None


def expect(report: VerifyReport, case: Case) -> None:
    """Assert that ``report`` fails with the findings ``case`` names."""
    assert not report.ok, f"{case.name}: a tampered bundle verified"
    assert report.trusted is None
    found = [f for f in report.findings if f.kind == case.kind]
    assert found, f"{case.name}: no {case.kind} finding in {report.findings}"
    assert sorted(f.index for f in found if f.index is not None) == sorted(
        i for i in case.indexes if i is not None
    ), found
    if case.span_contains is not None:
        spans = [f.span for f in found if f.span is not None]
        assert any(lo <= case.span_contains < hi for lo, hi in spans), found
    for f in report.findings:
        assert f.message and "\n" not in f.message


def _modified(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    stored, raw = lines[42]
    lines[42] = (stored, raw.replace(b"secret/a/", b"secret/b/"))
    return log.bundle(lines), {}


def _modified_and_rehashed(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    raw = lines[42][1].replace(b"secret/a/", b"secret/b/")
    lines[42] = (leaf_hash(raw), raw)
    return log.bundle(lines), {}


def _non_canonical_and_rehashed(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    raw = b"{ " + lines[42][1][1:]
    lines[42] = (leaf_hash(raw), raw)
    return log.bundle(lines), {}


def _hash_altered(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    lines[42] = (leaf_hash(b"something else"), lines[42][1])
    return log.bundle(lines), {}


def _modified_unsigned(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log(sizes=(10, 60))
    lines = log.lines
    lines[80] = (lines[80][0], lines[80][1].replace(b"secret/a/", b"secret/b/"))
    return log.bundle(lines), {}


def _deleted(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    del lines[42]
    return log.bundle(lines), {}


def _deleted_below_every_size_but_one(
    make_log: Callable[..., Log],
) -> tuple[Bundle, dict[str, Any]]:
    log = make_log(sizes=(10, 60))
    lines = log.lines
    del lines[30]
    return log.bundle(lines), {}


def _inserted_after(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    forged = entry(42, tag="forged")
    lines.insert(43, (leaf_hash(forged), forged))
    return log.bundle(lines), {}


def _inserted_before(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    forged = entry(42, tag="forged")
    lines.insert(42, (leaf_hash(forged), forged))
    return log.bundle(lines), {}


def _inserted_out_of_range(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    forged = entry(42, tag="forged", seq=10**9)
    lines.insert(20, (leaf_hash(forged), forged))
    return log.bundle(lines), {}


def _inserted_unsigned_seq(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    forged = entry(100, tag="forged")
    lines.insert(20, (leaf_hash(forged), forged))
    return log.bundle(lines), {}


def _replayed(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    lines.insert(43, lines[42])
    return log.bundle(lines), {}


def _first_deleted(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    return log.bundle(log.lines[1:]), {}


def _two_modified(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    for i in (3, 70):
        lines[i] = (lines[i][0], lines[i][1].replace(b"secret/a/", b"secret/b/"))
    return log.bundle(lines), {}


def _swapped(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    lines[30], lines[70] = lines[70], lines[30]
    return log.bundle(lines), {}


def _swapped_adjacent(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    lines[42], lines[43] = lines[43], lines[42]
    return log.bundle(lines), {}


def _moved(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    lines = log.lines
    lines.insert(50, lines.pop(30))
    return log.bundle(lines), {}


def _truncated(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    return log.bundle(log.lines[:90]), {}


def _rolled_back(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    state = trusted_state(make_log())
    shorter = make_log(n=90, sizes=(10, 60, 90))
    return shorter.bundle(), {"state": state}


def _forked_same_size(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    state = trusted_state(make_log())
    return make_log(fork_at=50).bundle(), {"state": state}


def _forked_peer(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    other_view = make_log().notes[-1].encode()
    return make_log(fork_at=50).bundle(), {"trusted_notes": [other_view]}


def _forked_below(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    state = trusted_state(make_log(n=80, sizes=(80,)))
    return make_log(fork_at=50).bundle(), {"state": state}


def _forked_inside(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    log.notes.append(make_log(fork_at=50).notes[-1])
    return log.bundle(), {}


def _bad_signature(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    body, sig = log.notes[1].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    log.notes[1] = body + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    return log.bundle(), {}


def _forged_checkpoint(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    log = make_log()
    log.notes[-1] = log.notes[-1].replace("\n100\n", "\n99\n", 1)
    return log.bundle(), {}


def _key_changed(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    state = trusted_state(make_log())
    resigned = make_log(key=OTHER_KEY)
    return make_bundle(resigned.lines, resigned.notes, OTHER_KEY), {"state": state}


def _key_not_the_pinned_one(make_log: Callable[..., Log]) -> tuple[Bundle, dict[str, Any]]:
    resigned = make_log(key=OTHER_KEY)
    return make_bundle(resigned.lines, resigned.notes, OTHER_KEY), {"verifier_key": vkey()}


CASES = [
    Case("modified", _modified, "modified", (42,)),
    Case("modified, hash rewritten", _modified_and_rehashed, "modified", (), span_contains=42),
    Case("non-canonical, hash rewritten", _non_canonical_and_rehashed, "modified", (42,)),
    Case("stored hash altered", _hash_altered, "modified", (42,)),
    Case("modified past the checkpoints", _modified_unsigned, "modified", (80,)),
    Case("deleted", _deleted, "deleted", (42,)),
    Case("deleted, no checkpoint above n", _deleted_below_every_size_but_one, "deleted", (30,)),
    Case("inserted after", _inserted_after, "inserted", (43,)),
    Case("inserted before", _inserted_before, "inserted", (42,)),
    Case("inserted, seq out of range", _inserted_out_of_range, "inserted", (20,)),
    Case("inserted, unsigned seq", _inserted_unsigned_seq, "inserted", (20,)),
    Case("replayed line", _replayed, "inserted", (43,)),
    Case("first entry deleted", _first_deleted, "deleted", (0,)),
    Case("two modified", _two_modified, "modified", (3, 70)),
    Case("swapped", _swapped, "reordered", (30, 70)),
    Case("swapped neighbours", _swapped_adjacent, "reordered", (42, 43)),
    Case("moved", _moved, "reordered", (30,)),
    Case("truncated", _truncated, "truncated", (90,)),
    Case("rolled back", _rolled_back, "truncated", (90,)),
    Case("forked, same size", _forked_same_size, "forked", (100,)),
    Case("forked, other verifier", _forked_peer, "forked", (100,)),
    Case("forked below the bundle's checkpoints", _forked_below, "forked", (80,)),
    Case("forked inside the bundle", _forked_inside, "forked", (100,)),
    Case("bad signature", _bad_signature, "bad-signature", (None,)),
    Case("forged checkpoint", _forged_checkpoint, "bad-signature", (None,)),
    Case("key changed", _key_changed, "key-changed", (None,)),
    Case("not the pinned key", _key_not_the_pinned_one, "key-changed", (None,)),
]


class TestTampering:
    """Each kind of tampering fails verification, naming the entry and how."""

    @pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
    def test_detected_and_named(self, make_log: Callable[..., Log], case: Case) -> None:
        tampered, kwargs = case.build(make_log)
        expect(verify_bundle(tampered, **kwargs), case)

    @pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
    def test_an_always_ok_verifier_fails_every_case(
        self, make_log: Callable[..., Log], case: Case
    ) -> None:
        tampered, _ = case.build(make_log)
        fooled = VerifyReport(True, tampered.header.size, tampered.header.size, 0, [], None, [])
        with pytest.raises(AssertionError):
            expect(fooled, case)

    def test_a_verifier_with_the_wrong_index_fails_too(self, make_log: Callable[..., Log]) -> None:
        wrong = VerifyReport(
            False, 100, 0, 4, [Finding(FindingKind.MODIFIED, 41, "entry 41 was modified")], None, []
        )
        with pytest.raises(AssertionError):
            expect(wrong, CASES[0])

    def test_messages_are_precise(self, make_log: Callable[..., Log]) -> None:
        def messages(build: Callable[..., tuple[Bundle, dict[str, Any]]]) -> list[str]:
            tampered, kwargs = build(make_log)
            return [f.message for f in verify_bundle(tampered, **kwargs).findings]

        assert messages(_modified) == [
            "entry 42 was modified (its hash does not match the one logged)"
        ]
        assert messages(_deleted) == ["entry 42 was deleted (no entry has seq 42)"]
        swap = (
            "entries 30 and 70 were swapped (entry 30 is at position 70, entry 70 at position 30)"
        )
        assert messages(_swapped) == [swap, swap]
        (inserted,) = messages(_inserted_after)
        assert inserted.startswith("the entry at position 43 (line 45) was inserted: it claims")
        (rewritten,) = messages(_modified_and_rehashed)
        assert rewritten.startswith("an entry in 25..59 was modified and its logged hash")
        (truncated,) = messages(_truncated)
        assert truncated == (
            "entries 90..99 are missing: the bundle ends after 90 entries, "
            "but checkpoint 100 is signed"
        )
        (forked,) = messages(_forked_same_size)
        assert forked.startswith("the log forked at size 100:")

    def test_rewritten_hash_reports_the_range(self, make_log: Callable[..., Log]) -> None:
        tampered, _ = _modified_and_rehashed(make_log)
        report = verify_bundle(tampered)
        (finding,) = report.findings
        assert (finding.index, finding.span) == (None, (25, 60))
        assert report.verified_size == 25

    def test_inserted_entry_is_the_only_finding(self, make_log: Callable[..., Log]) -> None:
        for build in (_inserted_after, _inserted_before, _deleted, _swapped, _moved):
            tampered, _ = build(make_log)
            kinds = {f.kind for f in verify_bundle(tampered).findings}
            assert len(kinds) == 1, (build.__name__, kinds)

    def test_key_change_leaves_nothing_verified(self, make_log: Callable[..., Log]) -> None:
        tampered, kwargs = _key_changed(make_log)
        report = verify_bundle(tampered, **kwargs)
        assert [f.kind for f in report.findings] == ["key-changed"]
        assert report.verified_size == 0

    def test_findings_are_capped_per_kind(self, make_log: Callable[..., Log]) -> None:
        log = make_log(n=150, sizes=(150,))
        lines = [(h, r.replace(b"secret/a/", b"secret/b/")) for h, r in log.lines]
        findings = verify_bundle(log.bundle(lines)).findings
        assert len(findings) == 101
        assert [f.index for f in findings[:100]] == list(range(100))
        assert (findings[-1].index, findings[-1].message) == (
            None,
            "50 more modified findings not listed",
        )
