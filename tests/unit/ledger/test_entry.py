"""Audit entries: canonical bytes (RFC 8785), parsing, the taxonomy."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.errors import IntegrityViolation
from strongroom.ledger.entry import AuditEvent, Event, Outcome, canonical, parse_entry

_scalars = (
    st.text() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.booleans() | st.none()
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


class TestCanonical:
    @settings(max_examples=500)
    @given(st.dictionaries(st.text(max_size=12), _values, max_size=8))
    def test_fast_path_is_byte_identical_to_rfc8785(self, obj: dict[str, Any]) -> None:
        assert canonical(obj) == rfc8785.dumps(obj)

    @given(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    )
    def test_numbers_match_the_reference(self, x: float) -> None:
        assert canonical({"x": x}) == rfc8785.dumps({"x": x})

    def test_non_bmp_keys_sort_by_utf16(self) -> None:
        # U+1F600 sorts before U+FB01 in UTF-16 but after it in code points.
        obj = {"\U0001f600": 1, "\ufb01": 2}
        assert canonical(obj) == rfc8785.dumps(obj)


class TestParse:
    def test_round_trip(self) -> None:
        e = AuditEvent(
            event=Event.KV_RECORD_WRITE,
            principal="acc",
            tenant="t",
            resource="secret/\u00e9t\u00e9/\n",
            outcome=Outcome.ERROR,
            request_id="r",
            reason="conflict",
            details={"version": 3},
        )
        raw = e.canonical(seq=9, time_ns=1_700_000_000_123_456_789)
        obj = parse_entry(raw)
        assert obj["seq"] == 9 and obj["time"] == "2023-11-14T22:13:20.123456Z"
        assert canonical(obj) == raw

    @pytest.mark.parametrize(
        "raw",
        [b"not json", b"[1]", b'{"v":1, "seq":0}', b'{"seq":0,"v":2}', b'{"v":1,"seq":0}\n'],
    )
    def test_rejects_non_canonical_or_unknown(self, raw: bytes) -> None:
        with pytest.raises(IntegrityViolation):
            parse_entry(raw)

    def test_event_names_follow_the_taxonomy(self) -> None:
        for event in Event:
            source, subject, action = str(event).split(":")
            assert source and subject and action
