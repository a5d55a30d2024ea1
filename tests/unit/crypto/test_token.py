"""Token format, checksum, keyed hashing and masking."""

from __future__ import annotations

import hmac
import re
from typing import Any

import pytest

from strongroom.crypto import (
    TOKEN_PREFIX,
    SecretToken,
    generate_accessor,
    generate_token,
    looks_like_token,
    token_hash,
)

from .vectors import json_parametrize

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class TestGenerateToken:
    def test_format(self) -> None:
        token = generate_token()
        assert token.startswith("strongroom_v1_")
        assert token.startswith(TOKEN_PREFIX)
        assert re.fullmatch(r"strongroom_v1_[0-9A-Za-z]{49}", token)
        assert looks_like_token(token)

    def test_unique(self) -> None:
        tokens = {generate_token() for _ in range(10_000)}
        assert len(tokens) == 10_000

    def test_every_one_char_change_fails(self) -> None:
        token = generate_token()
        for i in range(len(token)):
            replacement = next(c for c in ALPHABET + "_" if c != token[i])
            changed = token[:i] + replacement + token[i + 1 :]
            assert not looks_like_token(changed), i

    @pytest.mark.parametrize(
        "text",
        ["", "strongroom_v1_", "strongroom_dev_root_token", "ghp_" + "a" * 36, "x" * 63],
    )
    def test_look_alikes_rejected(self, text: str) -> None:
        assert not looks_like_token(text)

    def test_truncated_and_extended_rejected(self) -> None:
        token = generate_token()
        assert not looks_like_token(token[:-1])
        assert not looks_like_token(token + "0")
        assert not looks_like_token(" " + token)


class TestTokenHash:
    def test_keyed_and_deterministic(self) -> None:
        k1, k2 = bytes(32), b"\x01" * 32
        token = generate_token()
        assert token_hash(k1, token) == token_hash(k1, token)
        assert token_hash(k1, token) != token_hash(k2, token)
        assert len(token_hash(k1, token)) == 32
        assert token_hash(k1, token) != token_hash(k1, generate_token())

    def test_short_key_refused(self) -> None:
        with pytest.raises(ValueError):
            token_hash(b"short", generate_token())

    @json_parametrize("crypto_keys.json", kind="token_hash")
    def test_vector(self, vector: dict[str, Any]) -> None:
        key = bytes.fromhex(vector["key"])
        assert looks_like_token(vector["token"])
        assert token_hash(key, vector["token"]).hex() == vector["hash"]
        expected = hmac.digest(key, b"strongroom/token/v1\x00" + vector["token"].encode(), "sha256")
        assert expected.hex() == vector["hash"]


class TestAccessor:
    def test_format_and_uniqueness(self) -> None:
        accessors = {generate_accessor() for _ in range(1000)}
        assert len(accessors) == 1000
        for a in accessors:
            assert re.fullmatch(r"acc_[0-9A-Za-z]{22}", a)
            assert not looks_like_token(a)


class TestSecretToken:
    def test_masked(self) -> None:
        token = generate_token()
        st = SecretToken(token)
        for text in (repr(st), str(st), f"{st}", repr([st])):
            assert token not in text
            assert token[len(TOKEN_PREFIX) :] not in text
            assert "redacted" in text
        assert st.get_secret_value() == token

    def test_equality_and_unhashable(self) -> None:
        token = generate_token()
        assert SecretToken(token) == SecretToken(token)
        assert SecretToken(token) != SecretToken(generate_token())
        with pytest.raises(TypeError):
            hash(SecretToken(token))

    def test_generate(self) -> None:
        assert looks_like_token(SecretToken.generate().get_secret_value())
        assert "other" not in repr(SecretToken("other"))
