"""BackupKey: chunk ids, sealed chunks, wrapping by a KEK, and the key-object conventions."""

from __future__ import annotations

import copy
import hashlib
import hmac
import pickle
import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto import KEK, BackupKey, DataKey
from strongroom.errors import DecryptionFailed

RAW = bytes(range(32))
NONCE = bytes(range(100, 112))


def _hkdf(ikm: bytes, label: bytes) -> bytes:
    info = b"strongroom/backup/v1/" + label
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


class TestBackupKeyObject:
    def test_generate_is_random(self) -> None:
        assert BackupKey.generate() != BackupKey.generate()
        assert len(BackupKey.generate().secret_bytes()) == 32

    def test_repr_and_str_mask_the_key(self) -> None:
        key = BackupKey(RAW)
        for text in (repr(key), str(key), f"{key}", repr([key])):
            assert "redacted" in text
            assert RAW.hex() not in text
            assert repr(RAW)[2:-1] not in text
            for label in (b"backup-chunk-id", b"backup-chunk-seal"):
                assert _hkdf(RAW, label).hex() not in text

    def test_not_picklable_copyable_or_hashable(self) -> None:
        key = BackupKey(RAW)
        with pytest.raises(TypeError):
            pickle.dumps(key)
        with pytest.raises(TypeError):
            copy.deepcopy(key)
        with pytest.raises(TypeError):
            hash(key)

    def test_compared_by_value_and_type(self) -> None:
        assert BackupKey(RAW) == BackupKey(RAW)
        assert BackupKey(RAW) != BackupKey(bytes(32))
        assert BackupKey(RAW) != DataKey(RAW)

    @pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33)])
    def test_length_validated(self, raw: bytes) -> None:
        with pytest.raises(ValueError):
            BackupKey(raw)

    def test_key_material_must_be_bytes(self) -> None:
        with pytest.raises(TypeError):
            BackupKey(bytearray(32))  # type: ignore[arg-type]

    def test_key_id_is_a_stable_hkdf_output(self) -> None:
        key = BackupKey(RAW)
        info = b"strongroom/backup/v1/backup-key-id"
        expected = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=info).derive(RAW)
        assert key.key_id == expected.hex()
        assert BackupKey(RAW).key_id == key.key_id
        assert BackupKey.generate().key_id != key.key_id


class TestChunkId:
    def test_is_hmac_sha256_under_the_derived_subkey(self) -> None:
        expected = hmac.new(_hkdf(RAW, b"backup-chunk-id"), b"page", hashlib.sha256).hexdigest()
        assert BackupKey(RAW).chunk_id(b"page") == expected

    def test_is_not_a_plain_hash_or_hmac_under_the_key_itself(self) -> None:
        cid = BackupKey(RAW).chunk_id(b"page")
        assert cid != hashlib.sha256(b"page").hexdigest()
        assert cid != hmac.new(RAW, b"page", hashlib.sha256).hexdigest()

    def test_differs_between_keys(self) -> None:
        assert BackupKey(RAW).chunk_id(b"x") != BackupKey(bytes(32)).chunk_id(b"x")

    @settings(max_examples=50, deadline=None)
    @given(data=st.binary(max_size=4096), other=st.binary(max_size=4096))
    def test_deterministic_and_distinct(self, data: bytes, other: bytes) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(data)
        assert cid == key.chunk_id(data)
        assert len(cid) == 64
        assert int(cid, 16) >= 0
        if other != data:
            assert key.chunk_id(other) != cid

    def test_requires_bytes(self) -> None:
        with pytest.raises(TypeError):
            BackupKey(RAW).chunk_id("text")  # type: ignore[arg-type]


class TestSeal:
    def test_layout_matches_an_independent_aes_gcm(self) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(b"page")
        blob = key.seal(b"compressed page", chunk_id=cid, nonce=NONCE)
        assert blob[:5] == b"SRbk\x01"
        assert blob[5:17] == NONCE
        aead = AESGCM(_hkdf(RAW, b"backup-chunk-seal"))
        aad = b"SRbk\x01" + cid.encode()
        assert aead.decrypt(NONCE, blob[17:], aad) == b"compressed page"
        assert len(blob) == 5 + 12 + len(b"compressed page") + 16

    @settings(max_examples=75, deadline=None)
    @given(data=st.binary(max_size=8192))
    def test_round_trip(self, data: bytes) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(data)
        blob = key.seal(data, chunk_id=cid)
        assert key.open(blob, chunk_id=cid) == data

    def test_fresh_nonce_per_seal(self) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(b"x")
        assert key.seal(b"x", chunk_id=cid) != key.seal(b"x", chunk_id=cid)

    def test_chunk_cannot_be_opened_as_another(self) -> None:
        key = BackupKey(RAW)
        a, b = key.chunk_id(b"a"), key.chunk_id(b"b")
        with pytest.raises(DecryptionFailed):
            key.open(key.seal(b"a", chunk_id=a), chunk_id=b)

    def test_wrong_key_fails(self) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(b"a")
        with pytest.raises(DecryptionFailed):
            BackupKey(bytes(32)).open(key.seal(b"a", chunk_id=cid), chunk_id=cid)

    @settings(max_examples=50, deadline=None)
    @given(position=st.integers(min_value=0, max_value=5 + 12 + 3 + 16 - 1))
    def test_any_flipped_byte_fails(self, position: int) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(b"abc")
        blob = bytearray(key.seal(b"abc", chunk_id=cid))
        blob[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            key.open(bytes(blob), chunk_id=cid)

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda b: b[:-1],
            lambda b: b[:20],
            lambda b: b"",
            lambda b: b"SRbk\x02" + b[5:],
            lambda b: b"SRwk" + b[4:],
            lambda b: b + b"\x00",
        ],
        ids=["truncated-tag", "short", "empty", "version-2", "other-magic", "trailing"],
    )
    def test_malformed_blobs_fail_opaquely(self, mangle: object) -> None:
        key = BackupKey(RAW)
        cid = key.chunk_id(b"abc")
        blob = mangle(key.seal(b"abc", chunk_id=cid))  # type: ignore[operator]
        with pytest.raises(DecryptionFailed) as info:
            key.open(blob, chunk_id=cid)
        assert info.value.detail == DecryptionFailed.title

    @pytest.mark.parametrize("bad", ["", "AB" * 32, "ab" * 31, "zz" * 32, "ab" * 33, 7])
    def test_malformed_chunk_id(self, bad: object) -> None:
        key = BackupKey(RAW)
        with pytest.raises(ValueError):
            key.seal(b"x", chunk_id=bad)  # type: ignore[arg-type]
        with pytest.raises(DecryptionFailed):
            key.open(key.seal(b"x", chunk_id="ab" * 32), chunk_id=bad)  # type: ignore[arg-type]

    def test_nonce_length_and_data_type_checked(self) -> None:
        key = BackupKey(RAW)
        with pytest.raises(ValueError):
            key.seal(b"x", chunk_id="ab" * 32, nonce=bytes(11))
        with pytest.raises(TypeError):
            key.seal("x", chunk_id="ab" * 32)  # type: ignore[arg-type]
        with pytest.raises(DecryptionFailed):
            key.open("blob", chunk_id="ab" * 32)  # type: ignore[arg-type]


class TestWrapping:
    def test_round_trip_and_layout(self) -> None:
        key = BackupKey(RAW)
        kek = KEK(bytes(range(50, 82)), version=7)
        blob = key.wrap_with(kek, nonce=NONCE)
        assert len(blob) == 69
        header = b"SRbw\x01" + struct.pack(">I", 7)
        assert blob[:9] == header
        assert blob[9:21] == NONCE
        assert AESGCM(kek.secret_bytes()).decrypt(NONCE, blob[21:], header) == RAW
        assert BackupKey.wrapped_kek_version(blob) == 7
        assert BackupKey.unwrap_with(kek, blob) == key

    def test_fresh_nonce(self) -> None:
        key, kek = BackupKey(RAW), KEK.generate(version=1)
        assert key.wrap_with(kek) != key.wrap_with(kek)

    def test_other_kek_or_version_fails(self) -> None:
        key, kek = BackupKey(RAW), KEK.generate(version=1)
        blob = key.wrap_with(kek)
        with pytest.raises(DecryptionFailed):
            BackupKey.unwrap_with(KEK.generate(version=1), blob)
        with pytest.raises(DecryptionFailed):
            BackupKey.unwrap_with(KEK(kek.secret_bytes(), version=2), blob)

    def test_version_in_header_is_authenticated(self) -> None:
        kek = KEK.generate(version=1)
        blob = bytearray(BackupKey(RAW).wrap_with(kek))
        blob[5:9] = struct.pack(">I", 2)
        with pytest.raises(DecryptionFailed):
            BackupKey.unwrap_with(KEK(kek.secret_bytes(), version=2), bytes(blob))

    def test_not_interchangeable_with_a_wrapped_dek(self) -> None:
        kek = KEK.generate(version=1)
        dek_blob = kek.wrap(DataKey(RAW))
        with pytest.raises(DecryptionFailed):
            BackupKey.unwrap_with(kek, dek_blob)
        with pytest.raises(DecryptionFailed):
            BackupKey.wrapped_kek_version(dek_blob)
        with pytest.raises(DecryptionFailed):
            kek.unwrap(BackupKey(RAW).wrap_with(kek))

    @pytest.mark.parametrize("blob", [b"", b"SRbw\x01", bytes(69), b"SRbw\x02" + bytes(64)])
    def test_wrapped_kek_version_rejects_junk(self, blob: bytes) -> None:
        with pytest.raises(DecryptionFailed):
            BackupKey.wrapped_kek_version(blob)

    def test_misuse_is_a_type_error(self) -> None:
        with pytest.raises(TypeError):
            BackupKey(RAW).wrap_with(DataKey(RAW))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            BackupKey.unwrap_with(DataKey(RAW), b"")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            BackupKey(RAW).wrap_with(KEK.generate(version=1), nonce=b"short")
