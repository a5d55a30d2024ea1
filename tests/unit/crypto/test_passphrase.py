"""Passphrase protection of the root key (Argon2id + AES-256-GCM)."""

from __future__ import annotations

import logging
import struct
from typing import Any

import pytest
from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto import Argon2Params, RootKey, protect, recover
from strongroom.errors import DecryptionFailed, InvalidInput

from .vectors import json_parametrize

FAST = Argon2Params(time_cost=1, memory_cost_kib=8, parallelism=1)


class TestArgon2Params:
    def test_defaults(self) -> None:
        p = Argon2Params()
        assert (p.time_cost, p.memory_cost_kib, p.parallelism, p.salt_len) == (3, 65536, 2, 16)

    def test_unsafe_preset_warns(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING):
            p = Argon2Params.unsafe_for_tests()
        assert p.memory_cost_kib < Argon2Params().memory_cost_kib
        assert "UNSAFE" in caplog.text

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"time_cost": 0},
            {"parallelism": 0},
            {"memory_cost_kib": 4},
            {"memory_cost_kib": 8 * 1024 * 1024},
            {"salt_len": 8},
        ],
    )
    def test_bounds(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(ValueError):
            Argon2Params(**kwargs)


class TestProtectRecover:
    def test_round_trip_with_default_params(self) -> None:
        root = RootKey.generate()
        blob = protect(root, "correct horse battery staple")
        assert blob[:4] == b"SRpp"
        assert blob[4] == 1
        assert recover(blob, "correct horse battery staple") == root

    def test_wrong_passphrase(self) -> None:
        blob = protect(RootKey.generate(), "right", params=FAST)
        with pytest.raises(DecryptionFailed) as info:
            recover(blob, "wrong")
        assert info.value.__cause__ is None

    def test_unicode_normalised(self) -> None:
        root = RootKey.generate()
        blob = protect(root, "caf\u00e9", params=FAST)  # composed é
        assert recover(blob, "cafe\u0301") == root  # decomposed é

    def test_empty_passphrase(self) -> None:
        with pytest.raises(InvalidInput):
            protect(RootKey.generate(), "", params=FAST)

    def test_every_byte_flip_fails(self) -> None:
        blob = protect(RootKey.generate(), "pw", params=FAST)
        for i in range(len(blob)):
            bad = bytearray(blob)
            bad[i] ^= 0x01
            with pytest.raises(DecryptionFailed):
                recover(bytes(bad), "pw")
        for n in range(len(blob)):
            with pytest.raises(DecryptionFailed):
                recover(blob[:n], "pw")

    def test_absurd_stored_costs_refused_without_running_argon2(self) -> None:
        blob = bytearray(protect(RootKey.generate(), "pw", params=FAST))
        # memory_cost_kib lives at offset 10 (magic 4, version 1, kdf 1, time 4).
        struct.pack_into(">I", blob, 10, 2**31)
        with pytest.raises(DecryptionFailed):
            recover(bytes(blob), "pw")

    @settings(max_examples=20, deadline=None)
    @given(
        right=st.text(min_size=1, max_size=30),
        wrong=st.text(min_size=1, max_size=30),
    )
    def test_wrong_passphrase_property(self, right: str, wrong: str) -> None:
        import unicodedata

        root = RootKey.generate()
        blob = protect(root, right, params=FAST)
        assert recover(blob, right) == root
        if unicodedata.normalize("NFC", wrong) != unicodedata.normalize("NFC", right):
            with pytest.raises(DecryptionFailed):
                recover(blob, wrong)

    @json_parametrize("crypto_keys.json", kind="passphrase")
    def test_vector(self, vector: dict[str, Any]) -> None:
        params = Argon2Params(
            time_cost=vector["time_cost"],
            memory_cost_kib=vector["memory_cost_kib"],
            parallelism=vector["parallelism"],
        )
        root = RootKey(bytes.fromhex(vector["root"]))
        salt, nonce = bytes.fromhex(vector["salt"]), bytes.fromhex(vector["nonce"])
        blob = protect(root, vector["passphrase"], params=params, salt=salt, nonce=nonce)
        assert blob.hex() == vector["blob"]
        assert recover(blob, vector["passphrase"]) == root
        # Cross-check with argon2-cffi and pyca/cryptography directly.
        header = b"SRpp\x01\x01" + struct.pack(
            ">IIHB", params.time_cost, params.memory_cost_kib, params.parallelism, len(salt)
        )
        kek = hash_secret_raw(
            vector["passphrase"].encode(),
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            hash_len=32,
            type=Type.ID,
        )
        aad = header + salt
        assert blob == aad + nonce + AESGCM(kek).encrypt(nonce, root.secret_bytes(), aad)
