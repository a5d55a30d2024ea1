"""Ed25519 signing keys: RFC 8032 known answers, masking, verification, sealing by the root key."""

from __future__ import annotations

import copy
import pickle
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.crypto import (
    KEK,
    RootKey,
    SigningKey,
    VerifyKey,
    seal_signing_key,
    unseal_signing_key,
)
from strongroom.errors import DecryptionFailed, IntegrityViolation, ProofInvalid

from .vectors import json_parametrize

VECTORS = "checkpoint_ed25519.json"
NAME = "strongroom.local/test/audit/v1"


def _hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


class TestSigningKey:
    @json_parametrize(VECTORS, kind="rfc8032")
    def test_rfc8032_vectors(self, vector: dict[str, Any]) -> None:
        key = SigningKey(bytes.fromhex(vector["seed"]))
        message = bytes.fromhex(vector["message"])
        signature = key.sign(message)
        assert key.public_key().raw.hex() == vector["public_key"]
        assert signature.hex() == vector["signature"]
        key.public_key().verify(message, signature)

    def test_sign_matches_pyca_and_is_deterministic(self) -> None:
        key = SigningKey.generate()
        sig = key.sign(b"tree head")
        assert len(sig) == 64
        assert key.sign(b"tree head") == sig
        Ed25519PublicKey.from_public_bytes(key.public_key().raw).verify(sig, b"tree head")

    def test_generate_is_random(self) -> None:
        assert SigningKey.generate() != SigningKey.generate()
        assert len(SigningKey.generate().secret_bytes()) == 32

    def test_repr_and_str_mask_the_seed(self) -> None:
        seed = bytes(range(200, 232))
        key = SigningKey(seed)
        for text in (repr(key), str(key), f"{key}", repr([key])):
            assert "redacted" in text
            assert seed.hex() not in text
            assert repr(seed)[2:-1] not in text

    def test_not_picklable_copyable_or_hashable(self) -> None:
        key = SigningKey(bytes(32))
        with pytest.raises(TypeError):
            pickle.dumps(key)
        with pytest.raises(TypeError):
            copy.deepcopy(key)
        with pytest.raises(TypeError):
            hash(key)

    def test_compared_by_value(self) -> None:
        assert SigningKey(bytes(32)) == SigningKey(bytes(32))
        assert SigningKey(bytes(32)) != SigningKey(b"\x01" * 32)

    @pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), bytes(64)])
    def test_seed_length_validated(self, seed: bytes) -> None:
        with pytest.raises(ValueError):
            SigningKey(seed)

    def test_types_validated(self) -> None:
        with pytest.raises(TypeError):
            SigningKey(bytearray(32))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            SigningKey(bytes(32)).sign("text")  # type: ignore[arg-type]


class TestVerifyKey:
    def test_from_bytes_raw_and_value_semantics(self) -> None:
        raw = SigningKey(bytes(32)).public_key().raw
        vk = VerifyKey.from_bytes(raw)
        assert vk.raw == raw
        assert vk == VerifyKey(raw)
        assert {vk: 1}[VerifyKey(raw)] == 1
        assert raw.hex() in repr(vk)
        assert pickle.loads(pickle.dumps(vk)) == vk
        assert vk != SigningKey(b"\x01" * 32).public_key()

    def test_verify_accepts_a_good_signature(self) -> None:
        key = SigningKey.generate()
        key.public_key().verify(b"m", key.sign(b"m"))  # raises on failure, returns nothing

    def test_rejects_altered_message_signature_and_key(self) -> None:
        key = SigningKey.generate()
        vk = key.public_key()
        sig = key.sign(b"message")
        with pytest.raises(ProofInvalid):
            vk.verify(b"messagE", sig)
        for i in (0, 31, 32, 63):
            bad = bytearray(sig)
            bad[i] ^= 0x01
            with pytest.raises(ProofInvalid):
                vk.verify(b"message", bytes(bad))
        for n in (0, 63, 65):
            with pytest.raises(ProofInvalid):
                vk.verify(b"message", (sig + b"\x00")[:n])
        with pytest.raises(ProofInvalid):
            SigningKey.generate().public_key().verify(b"message", sig)

    def test_proof_invalid_is_an_integrity_violation(self) -> None:
        with pytest.raises(IntegrityViolation, match="does not verify"):
            SigningKey.generate().public_key().verify(b"m", bytes(64))

    def test_invalid_point_fails_verification(self) -> None:
        # Not every 32-byte string encodes a curve point (RFC 8032 §5.1.3);
        # such a key is accepted by length but never verifies anything.
        vk = VerifyKey(b"\xff" * 32)
        with pytest.raises(ProofInvalid):
            vk.verify(b"m", bytes(64))

    @pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33)])
    def test_length_validated(self, raw: bytes) -> None:
        with pytest.raises(ValueError):
            VerifyKey.from_bytes(raw)

    def test_types_validated(self) -> None:
        with pytest.raises(TypeError):
            VerifyKey("00" * 32)  # type: ignore[arg-type]
        vk = SigningKey.generate().public_key()
        with pytest.raises(TypeError):
            vk.verify("m", bytes(64))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            vk.verify(b"m", bytearray(64))  # type: ignore[arg-type]


class TestSealing:
    def test_round_trip_and_format(self) -> None:
        root = RootKey.generate()
        key = SigningKey.generate()
        blob = seal_signing_key(root, key, name=NAME)
        assert len(blob) == 65
        assert blob[:5] == b"SRsg\x01"
        assert unseal_signing_key(root, blob, name=NAME) == key
        # A fresh random nonce per seal.
        assert seal_signing_key(root, key, name=NAME) != blob

    @json_parametrize(VECTORS, kind="seal_signing_key")
    def test_known_answer(self, vector: dict[str, Any]) -> None:
        root = RootKey(bytes.fromhex(vector["root"]))
        key = SigningKey(bytes.fromhex(vector["seed"]))
        nonce = bytes.fromhex(vector["nonce"])
        blob = seal_signing_key(root, key, name=vector["name"], nonce=nonce)
        assert blob.hex() == vector["blob"]
        assert unseal_signing_key(root, blob, name=vector["name"]) == key

    def test_matches_raw_hkdf_and_aesgcm(self) -> None:
        # The format written out by hand with pyca/cryptography: HKDF-SHA256
        # purpose key (RFC 5869), AAD = magic | version | u16 len | name.
        material, seed, nonce = bytes(range(0x60, 0x80)), bytes(range(32)), bytes(12)
        wrap_key = _hkdf(material, b"strongroom/root/v1/derive/signing-key-wrap")
        aad = b"SRsg\x01" + struct.pack(">H", len(NAME)) + NAME.encode()
        expected = b"SRsg\x01" + nonce + AESGCM(wrap_key).encrypt(nonce, seed, aad)
        got = seal_signing_key(RootKey(material), SigningKey(seed), name=NAME, nonce=nonce)
        assert got == expected

    def test_wrong_root_fails(self) -> None:
        key = SigningKey.generate()
        blob = seal_signing_key(RootKey.generate(), key, name=NAME)
        with pytest.raises(DecryptionFailed):
            unseal_signing_key(RootKey.generate(), blob, name=NAME)

    @pytest.mark.parametrize("name", ["strongroom.local/other/audit/v1", "", "x" * 2000, "\ud800"])
    def test_wrong_name_fails(self, name: str) -> None:
        root = RootKey.generate()
        blob = seal_signing_key(root, SigningKey.generate(), name=NAME)
        with pytest.raises(DecryptionFailed):
            unseal_signing_key(root, blob, name=name)

    def test_tampering_and_truncation_fail(self) -> None:
        root = RootKey.generate()
        blob = seal_signing_key(root, SigningKey.generate(), name=NAME)
        for i in range(len(blob)):
            bad = bytearray(blob)
            bad[i] ^= 0x01
            with pytest.raises(DecryptionFailed):
                unseal_signing_key(root, bytes(bad), name=NAME)
        for n in range(len(blob)):
            with pytest.raises(DecryptionFailed):
                unseal_signing_key(root, blob[:n], name=NAME)
        with pytest.raises(DecryptionFailed):
            unseal_signing_key(root, blob + b"\x00", name=NAME)

    def test_other_root_blobs_are_not_signing_keys(self) -> None:
        # The purpose key is separate from the KEK wrapping key: a KEK blob
        # relabelled as SRsg (and cut to length) does not open.
        root = RootKey.generate()
        kek_blob = root.wrap_kek(KEK.generate(version=1))
        forged = b"SRsg\x01" + kek_blob[9:]
        assert len(forged) == 65
        with pytest.raises(DecryptionFailed):
            unseal_signing_key(root, forged, name=NAME)

    def test_failures_are_opaque_and_leak_nothing(self) -> None:
        root = RootKey.generate()
        seed = bytes(range(100, 132))
        blob = seal_signing_key(root, SigningKey(seed), name=NAME)
        messages = set()
        for bad_root, bad_blob, name in (
            (RootKey.generate(), blob, NAME),
            (root, blob[:-1], NAME),
            (root, blob, "other"),
        ):
            with pytest.raises(DecryptionFailed) as info:
                unseal_signing_key(bad_root, bad_blob, name=name)
            messages.add((str(info.value), repr(info.value), info.value.diagnostics()))
            assert seed.hex() not in repr(info.value)
        assert len(messages) == 1
        assert "redacted" in repr(unseal_signing_key(root, blob, name=NAME))

    def test_seal_misuse(self) -> None:
        root = RootKey.generate()
        key = SigningKey.generate()
        for name in ("", "x" * 1025):
            with pytest.raises(ValueError):
                seal_signing_key(root, key, name=name)
        with pytest.raises(ValueError):
            seal_signing_key(root, key, name=NAME, nonce=bytes(11))
        with pytest.raises(TypeError):
            seal_signing_key(root, KEK.generate(version=1), name=NAME)  # type: ignore[arg-type]
