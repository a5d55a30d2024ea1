"""Blind indexes over normalised values."""

from __future__ import annotations

import hmac
import struct
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.crypto import BlindIndex, normalise

from .vectors import json_parametrize

KEY = bytes(range(32))


class TestBlindIndex:
    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("Ada Lovelace", "ada lovelace"),
            ("  ada   lovelace\t\n", "ada lovelace"),
            ("\uff21\uff24\uff21", "ada"),  # fullwidth forms fold under NFKC
            ("Straße", "STRASSE"),  # case folding, not lowercasing
            ("e\u0301", "\u00e9"),  # decomposed and composed é
            ("ada\u00a0lovelace", "ada lovelace"),  # no-break space is whitespace
        ],
    )
    def test_equivalent_values_match(self, a: str, b: str) -> None:
        idx = BlindIndex(KEY, field="name")
        assert idx.compute(a) == idx.compute(b)

    def test_different_values_differ(self) -> None:
        idx = BlindIndex(KEY, field="name")
        assert idx.compute("ada") != idx.compute("adb")
        assert idx.compute("a b") != idx.compute("ab")

    def test_field_and_key_separation(self) -> None:
        assert BlindIndex(KEY, field="email").compute("x") != BlindIndex(KEY, field="name").compute(
            "x"
        )
        assert BlindIndex(KEY, field="email").compute("x") != BlindIndex(
            b"\x01" * 32, field="email"
        ).compute("x")

    def test_repr_masks_key(self) -> None:
        idx = BlindIndex(KEY, field="email")
        assert "redacted" in repr(idx)
        assert KEY.hex() not in repr(idx)
        assert idx.field == "email"

    @pytest.mark.parametrize(("key", "field"), [(b"short", "f"), (KEY, "")])
    def test_validation(self, key: bytes, field: str) -> None:
        with pytest.raises(ValueError):
            BlindIndex(key, field=field)

    @given(st.text())
    def test_normalise_is_idempotent(self, value: str) -> None:
        once = normalise(value)
        assert normalise(once) == once
        assert once == once.strip()
        assert unicodedata.is_normalized("NFKC", once)

    @json_parametrize("crypto_keys.json", kind="blind_index")
    def test_vector(self, vector: dict[str, Any]) -> None:
        key = bytes.fromhex(vector["key"])
        idx = BlindIndex(key, field=vector["field"])
        assert idx.compute(vector["value"]).hex() == vector["index"]
        # Independent recomputation from the documented construction.
        field = vector["field"].encode()
        field_key = hmac.digest(
            key, b"strongroom/blind-index/v1" + struct.pack(">H", len(field)) + field, "sha256"
        )
        value = " ".join(
            unicodedata.normalize(
                "NFKC", unicodedata.normalize("NFKC", vector["value"]).casefold()
            ).split()
        )
        assert hmac.digest(field_key, value.encode(), "sha256").hex() == vector["index"]
