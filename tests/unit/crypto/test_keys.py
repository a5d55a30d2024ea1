"""Key objects: masking, wrapping formats, root key derivation and check value."""

from __future__ import annotations

import copy
import pickle
import struct
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.crypto import (
    KEK,
    DataKey,
    KeyPurpose,
    RootKey,
    SubjectKey,
    WrappingKey,
    wrapped_kek_version,
)
from strongroom.errors import DecryptionFailed

from .vectors import json_parametrize

ALL_KEYS: list[Callable[[bytes], Any]] = [
    RootKey,
    DataKey,
    lambda k: KEK(k, version=4),
    lambda k: SubjectKey(k, subject_id="patient-7"),
]


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


class TestMasking:
    @pytest.mark.parametrize("make", ALL_KEYS)
    def test_repr_and_str_mask_key_material(self, make: Callable[[bytes], Any]) -> None:
        material = bytes(range(200, 232))
        key = make(material)
        for text in (repr(key), str(key), f"{key}", repr([key])):
            assert "redacted" in text
            assert material.hex() not in text
            assert repr(material)[2:-1] not in text
            assert "200" not in text

    @pytest.mark.parametrize("make", ALL_KEYS)
    def test_not_picklable_or_copyable(self, make: Callable[[bytes], Any]) -> None:
        key = make(bytes(32))
        with pytest.raises(TypeError):
            pickle.dumps(key)
        with pytest.raises(TypeError):
            copy.deepcopy(key)

    @pytest.mark.parametrize("make", ALL_KEYS)
    def test_unhashable_and_compared_by_value(self, make: Callable[[bytes], Any]) -> None:
        a, b, c = make(bytes(32)), make(bytes(32)), make(b"\x01" * 32)
        assert a == b
        assert a != c
        with pytest.raises(TypeError):
            hash(a)

    def test_identity_is_part_of_equality(self) -> None:
        k = bytes(32)
        assert KEK(k, version=1) != KEK(k, version=2)
        assert SubjectKey(k, subject_id="a") != SubjectKey(k, subject_id="b")
        assert DataKey(k) != RootKey(k)

    @pytest.mark.parametrize("material", [b"", bytes(16), bytes(33)])
    def test_length_validated(self, material: bytes) -> None:
        with pytest.raises(ValueError):
            DataKey(material)

    def test_type_validated(self) -> None:
        with pytest.raises(TypeError):
            DataKey(bytearray(32))  # type: ignore[arg-type]


class TestDataKey:
    def test_generate_is_random(self) -> None:
        assert DataKey.generate() != DataKey.generate()
        assert len(DataKey.generate().secret_bytes()) == 32


class TestKEK:
    def test_protocol(self) -> None:
        kek = KEK.generate(version=1)
        assert isinstance(kek, WrappingKey)
        assert kek.key_class == "kek"
        assert kek.version == 1

    @pytest.mark.parametrize("version", [0, -1, 2**32])
    def test_version_range(self, version: int) -> None:
        with pytest.raises(ValueError):
            KEK.generate(version=version)

    def test_wrap_format(self) -> None:
        kek = KEK.generate(version=0x01020304)
        blob = kek.wrap(DataKey.generate())
        assert len(blob) == 69
        assert blob[:9] == b"SRwk\x01\x01\x02\x03\x04"
        assert wrapped_kek_version(blob) == 0x01020304

    def test_wrap_matches_raw_aesgcm(self) -> None:
        key, dek, nonce = bytes(range(32)), DataKey(bytes(32)), bytes(12)
        header = b"SRwk\x01" + struct.pack(">I", 9)
        expected = header + nonce + AESGCM(key).encrypt(nonce, bytes(32), header)
        assert KEK(key, version=9).wrap(dek, nonce=nonce) == expected

    def test_unwrap_rejects_tampering(self) -> None:
        kek = KEK.generate(version=2)
        blob = kek.wrap(DataKey.generate())
        for i in range(len(blob)):
            bad = bytearray(blob)
            bad[i] ^= 0x01
            with pytest.raises(DecryptionFailed):
                kek.unwrap(bytes(bad))
        for n in range(len(blob)):
            with pytest.raises(DecryptionFailed):
                kek.unwrap(blob[:n])

    def test_relabelled_version_fails(self) -> None:
        # The same key material registered under another version must not
        # accept the blob: the version is bound in the AAD.
        material = bytes(range(32))
        blob = KEK(material, version=1).wrap(DataKey.generate())
        forged = blob[:5] + struct.pack(">I", 2) + blob[9:]
        with pytest.raises(DecryptionFailed):
            KEK(material, version=2).unwrap(forged)

    def test_subject_key_blob_is_not_a_dek_blob(self) -> None:
        kek = KEK.generate(version=1)
        sk = SubjectKey.generate(subject_id="s")
        blob = kek.wrap_subject_key(sk)
        assert blob[:4] == b"SRsk"
        with pytest.raises(DecryptionFailed):
            kek.unwrap(blob)
        dek_blob = kek.wrap(DataKey.generate())
        with pytest.raises(DecryptionFailed):
            kek.unwrap_subject_key(dek_blob, subject_id="s")

    def test_subject_key_bound_to_subject_and_version(self) -> None:
        kek = KEK.generate(version=1)
        sk = SubjectKey.generate(subject_id="patient-1")
        blob = kek.wrap_subject_key(sk)
        assert kek.unwrap_subject_key(blob, subject_id="patient-1") == sk
        assert wrapped_kek_version(blob) == 1
        for sid in ("patient-2", "", "x" * 2000):
            with pytest.raises(DecryptionFailed):
                kek.unwrap_subject_key(blob, subject_id=sid)
        with pytest.raises(DecryptionFailed):
            KEK.generate(version=1).unwrap_subject_key(blob, subject_id="patient-1")


class TestSubjectKey:
    def test_key_class_and_protocol(self) -> None:
        sk = SubjectKey.generate(subject_id="donor-3")
        assert sk.key_class == "subject:donor-3"
        assert sk.subject_id == "donor-3"
        assert isinstance(sk, WrappingKey)
        assert "donor-3" in repr(sk)

    @pytest.mark.parametrize("subject_id", ["", "x" * 1025])
    def test_subject_id_validated(self, subject_id: str) -> None:
        with pytest.raises(ValueError):
            SubjectKey.generate(subject_id=subject_id)

    def test_wrap_bound_to_subject_id(self) -> None:
        material = bytes(range(32))
        a = SubjectKey(material, subject_id="a")
        b = SubjectKey(material, subject_id="b")
        dek = DataKey.generate()
        blob = a.wrap(dek)
        assert blob[:5] == b"SRws\x01"
        assert len(blob) == 65
        assert a.unwrap(blob) == dek
        with pytest.raises(DecryptionFailed):
            b.unwrap(blob)
        with pytest.raises(DecryptionFailed):
            wrapped_kek_version(blob)


class TestRootKey:
    def test_kek_round_trip(self) -> None:
        root = RootKey.generate()
        kek = KEK.generate(version=5)
        blob = root.wrap_kek(kek)
        assert blob[:9] == b"SRrk\x01\x00\x00\x00\x05"
        assert root.unwrap_kek(5, blob) == kek

    def test_unwrap_kek_checks_version_and_root(self) -> None:
        root = RootKey.generate()
        blob = root.wrap_kek(KEK.generate(version=5))
        for version in (4, 0, -3, 2**33):
            with pytest.raises(DecryptionFailed):
                root.unwrap_kek(version, blob)
        with pytest.raises(DecryptionFailed):
            RootKey.generate().unwrap_kek(5, blob)
        forged = blob[:5] + struct.pack(">I", 6) + blob[9:]
        with pytest.raises(DecryptionFailed):
            root.unwrap_kek(6, forged)

    def test_check_value(self) -> None:
        root = RootKey.generate()
        cv = root.check_value()
        assert cv[:5] == b"SRcv\x01"
        root.verify_check_value(cv)
        with pytest.raises(DecryptionFailed):
            RootKey.generate().verify_check_value(cv)
        for i in range(len(cv)):
            bad = bytearray(cv)
            bad[i] ^= 0x40
            with pytest.raises(DecryptionFailed):
                root.verify_check_value(bytes(bad))
        with pytest.raises(DecryptionFailed):
            root.verify_check_value(cv[:-1])

    def test_derive_is_stable_and_separated(self) -> None:
        root = RootKey(bytes(range(32)))
        keys = {p: root.derive(p) for p in KeyPurpose}
        assert len(set(keys.values())) == len(keys)
        assert root.derive(KeyPurpose.TOKEN_HMAC) == root.derive("token-hmac")
        assert RootKey.generate().derive("token-hmac") != keys[KeyPurpose.TOKEN_HMAC]
        # RFC 5869 HKDF-SHA256, computed with pyca/cryptography directly.
        assert keys[KeyPurpose.AUDIT_HMAC] == _hkdf(
            bytes(range(32)), b"strongroom/root/v1/derive/audit-hmac"
        )

    @pytest.mark.parametrize("purpose", ["", "Token", "a/b", "x" * 65, "é"])
    def test_derive_purpose_validated(self, purpose: str) -> None:
        with pytest.raises(ValueError):
            RootKey.generate().derive(purpose)

    def test_root_key_not_used_directly_as_aes_key(self) -> None:
        # The wrap key is HKDF(root, "strongroom/root/v1/wrap"), never the root itself.
        material = bytes(range(32))
        nonce = bytes(12)
        kek = KEK(bytes(32), version=1)
        header = b"SRrk\x01" + struct.pack(">I", 1)
        wrap_key = _hkdf(material, b"strongroom/root/v1/wrap")
        expected = header + nonce + AESGCM(wrap_key).encrypt(nonce, bytes(32), header)
        assert RootKey(material).wrap_kek(kek, nonce=nonce) == expected


class TestWrappedKekVersion:
    @pytest.mark.parametrize(
        "blob", [b"", b"SRwk", b"SRwk\x01\x00\x00\x00\x01", b"XXXX\x01" + bytes(64)]
    )
    def test_rejects_non_kek_blobs(self, blob: bytes) -> None:
        with pytest.raises(DecryptionFailed):
            wrapped_kek_version(blob)

    def test_rejects_unknown_format(self) -> None:
        blob = KEK.generate(version=1).wrap(DataKey.generate())
        with pytest.raises(DecryptionFailed):
            wrapped_kek_version(blob[:4] + b"\x02" + blob[5:])


class TestKeyVectors:
    @json_parametrize("crypto_keys.json", kind="wrap_kek")
    def test_wrap_kek(self, vector: dict[str, Any]) -> None:
        root = RootKey(bytes.fromhex(vector["root"]))
        kek = KEK(bytes.fromhex(vector["kek"]), version=vector["version"])
        blob = root.wrap_kek(kek, nonce=bytes.fromhex(vector["nonce"]))
        assert blob.hex() == vector["blob"]
        assert root.unwrap_kek(vector["version"], blob) == kek

    @json_parametrize("crypto_keys.json", kind="check_value")
    def test_check_value(self, vector: dict[str, Any]) -> None:
        root = RootKey(bytes.fromhex(vector["root"]))
        assert root.check_value(nonce=bytes.fromhex(vector["nonce"])).hex() == vector["blob"]
        root.verify_check_value(bytes.fromhex(vector["blob"]))

    @json_parametrize("crypto_keys.json", kind="derive")
    def test_derive(self, vector: dict[str, Any]) -> None:
        root = RootKey(bytes.fromhex(vector["root"]))
        assert root.derive(vector["purpose"]).hex() == vector["key"]

    @json_parametrize("crypto_keys.json", kind="wrap_subject_key")
    def test_wrap_subject_key(self, vector: dict[str, Any]) -> None:
        kek = KEK(bytes.fromhex(vector["kek"]), version=vector["version"])
        sk = SubjectKey(bytes.fromhex(vector["subject_key"]), subject_id=vector["subject_id"])
        blob = kek.wrap_subject_key(sk, nonce=bytes.fromhex(vector["nonce"]))
        assert blob.hex() == vector["blob"]
        sid = vector["subject_id"].encode()
        header = b"SRsk\x01" + struct.pack(">IH", vector["version"], len(sid)) + sid
        nonce = bytes.fromhex(vector["nonce"])
        raw = AESGCM(bytes.fromhex(vector["kek"])).encrypt(nonce, sk.secret_bytes(), header)
        assert blob == header + nonce + raw

    @json_parametrize("crypto_keys.json", kind="rewrap")
    def test_rewrap(self, vector: dict[str, Any]) -> None:
        old = KEK(bytes.fromhex(vector["old_kek"]), version=vector["old_version"])
        new = KEK(bytes.fromhex(vector["new_kek"]), version=vector["new_version"])
        out = old.rewrap(
            bytes.fromhex(vector["blob"]), to=new, nonce=bytes.fromhex(vector["nonce"])
        )
        assert out.hex() == vector["rewrapped"]
        assert new.unwrap(out).secret_bytes().hex() == vector["dek"]
