"""C2SP tlog-checkpoint and signed-note: known answers, Go interoperability, tampering."""

from __future__ import annotations

import base64
import doctest
import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto import SigningKey, VerifyKey
from strongroom.errors import InvalidInput, ProofInvalid
from strongroom.ledger import checkpoint
from strongroom.ledger.checkpoint import (
    Checkpoint,
    key_id,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    verifier_key_string,
    verify_checkpoint,
    verify_note,
)

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors" / "checkpoint_ed25519.json").read_text("utf-8")
)["vectors"]
ORIGIN = "strongroom.local/test/audit/v1"
ROOT = hashlib.sha256(b"root").digest()
DASH = "\u2014"


def vectors(kind: str) -> pytest.MarkDecorator:
    """Parametrize with the vectors of ``kind``."""
    chosen = [v for v in VECTORS if v["kind"] == kind]
    assert chosen, kind
    return pytest.mark.parametrize("vector", chosen, ids=[v["description"] for v in chosen])


def _go_note() -> dict[str, Any]:
    (vector,) = [v for v in VECTORS if v["kind"] == "go_note"]
    return vector


def _key() -> SigningKey:
    return SigningKey(bytes(range(32)))


def _signed() -> bytes:
    """A note signing ``Checkpoint(ORIGIN, 7, ROOT)`` with :func:`_key` under ``ORIGIN``."""
    return sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), key=_key(), name=ORIGIN)


def _sig_line(name: str, raw: bytes) -> bytes:
    return f"{DASH} {name} ".encode() + base64.b64encode(raw) + b"\n"


class TestModule:
    def test_docstring_example_runs(self) -> None:
        result = doctest.testmod(checkpoint, verbose=False, report=False)
        assert result.attempted > 0
        assert result.failed == 0

    @pytest.mark.parametrize("name", checkpoint.__all__)
    def test_public_names_documented(self, name: str) -> None:
        obj = getattr(checkpoint, name)
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{name}.{attr}"

    def test_no_raw_crypto_import(self) -> None:
        source = inspect.getsource(checkpoint)
        assert "import cryptography" not in source
        assert "from cryptography" not in source


class TestCheckpoint:
    def test_body_format(self) -> None:
        cp = Checkpoint(ORIGIN, 20852163, ROOT, ("ext one", "ext two"))
        root_b64 = base64.b64encode(ROOT).decode()
        assert cp.body() == f"{ORIGIN}\n20852163\n{root_b64}\next one\next two\n".encode()
        assert Checkpoint.parse(cp.body()) == cp

    def test_empty_tree(self) -> None:
        cp = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
        assert cp.body().split(b"\n")[1] == b"0"
        assert Checkpoint.parse(cp.body()) == cp

    def test_frozen(self) -> None:
        cp = Checkpoint(ORIGIN, 1, ROOT)
        with pytest.raises(AttributeError):
            cp.size = 2  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("origin", "size", "root", "extensions"),
        [
            ("", 1, ROOT, ()),
            ("a\nb", 1, ROOT, ()),
            ("a\tb", 1, ROOT, ()),
            ("a\rb", 1, ROOT, ()),
            ("\ud800", 1, ROOT, ()),
            (ORIGIN, -1, ROOT, ()),
            (ORIGIN, 2**64, ROOT, ()),
            (ORIGIN, 1, ROOT[:31], ()),
            (ORIGIN, 1, ROOT + b"\x00", ()),
            (ORIGIN, 1, ROOT, ("",)),
            (ORIGIN, 1, ROOT, ("two\nlines",)),
        ],
    )
    def test_constructor_rejects_bad_values(
        self, origin: str, size: int, root: bytes, extensions: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValueError):
            Checkpoint(origin, size, root, extensions)

    def test_constructor_rejects_bad_types(self) -> None:
        for args in (
            (b"origin", 1, ROOT, ()),
            (ORIGIN, True, ROOT, ()),
            (ORIGIN, 1.0, ROOT, ()),
            (ORIGIN, 1, base64.b64encode(ROOT).decode(), ()),
            (ORIGIN, 1, ROOT, ["ext"]),
            (ORIGIN, 1, ROOT, (b"ext",)),
        ):
            with pytest.raises(TypeError):
                Checkpoint(*args)

    def test_largest_size(self) -> None:
        cp = Checkpoint(ORIGIN, 2**64 - 1, ROOT)
        assert Checkpoint.parse(cp.body()) == cp

    @pytest.mark.parametrize(
        "size_line",
        [
            "01",
            "00",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1_000",
            "\u0661",
            "0x10",
            "1e3",
            "18446744073709551616",
        ],
    )
    def test_parse_rejects_non_canonical_size(self, size_line: str) -> None:
        body = f"{ORIGIN}\n{size_line}\n{base64.b64encode(ROOT).decode()}\n".encode()
        with pytest.raises(ProofInvalid, match="tree size"):
            Checkpoint.parse(body)

    @pytest.mark.parametrize(
        "root_line",
        [
            "ThisIsn'tBase64",
            base64.b64encode(ROOT).decode().rstrip("="),  # unpadded
            base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # URL alphabet
            base64.b64encode(ROOT[:31]).decode(),
            base64.b64encode(ROOT + b"\x00").decode(),
            base64.b64encode(ROOT).decode()[:-2] + "R=",  # non-zero trailing bits
            " " + base64.b64encode(ROOT).decode(),
            ROOT.hex(),
        ],
    )
    def test_parse_rejects_bad_root(self, root_line: str) -> None:
        body = f"{ORIGIN}\n1\n{root_line}\n".encode()
        with pytest.raises(ProofInvalid, match="root hash"):
            Checkpoint.parse(body)

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"\n",
            f"{ORIGIN}\n1\n".encode(),
            f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}".encode(),  # no final newline
            f"\n1\n{base64.b64encode(ROOT).decode()}\n".encode(),  # empty origin
            f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\n\n".encode(),  # empty extension
            f"{ORIGIN}\r\n1\n{base64.b64encode(ROOT).decode()}\n".encode(),
            b"\xff\n1\n" + base64.b64encode(ROOT) + b"\n",
        ],
    )
    def test_parse_rejects_malformed_bodies(self, body: bytes) -> None:
        with pytest.raises(ProofInvalid, match="malformed checkpoint"):
            Checkpoint.parse(body)

    def test_parse_type(self) -> None:
        with pytest.raises(TypeError):
            Checkpoint.parse(Checkpoint(ORIGIN, 1, ROOT).body().decode())  # type: ignore[arg-type]

    @given(
        origin=st.text(
            st.characters(min_codepoint=0x20, blacklist_categories=["Cs"]), min_size=1, max_size=60
        ),
        size=st.integers(min_value=0, max_value=2**64 - 1),
        root=st.binary(min_size=32, max_size=32),
        extensions=st.lists(
            st.text(st.characters(min_codepoint=0x20, blacklist_categories=["Cs"]), min_size=1),
            max_size=3,
        ),
    )
    def test_parse_inverts_body(
        self, origin: str, size: int, root: bytes, extensions: list[str]
    ) -> None:
        cp = Checkpoint(origin, size, root, tuple(extensions))
        assert Checkpoint.parse(cp.body()) == cp
        assert Checkpoint.parse(cp.body()).body() == cp.body()


class TestKnownAnswers:
    @vectors("sign_checkpoint")
    def test_sign_checkpoint(self, vector: dict[str, Any]) -> None:
        key = SigningKey(bytes.fromhex(vector["seed"]))
        vk = key.public_key()
        cp = Checkpoint(
            vector["origin"],
            vector["size"],
            bytes.fromhex(vector["root_hash"]),
            tuple(vector["extensions"]),
        )
        assert vk.raw.hex() == vector["public_key"]
        assert cp.body().decode() == vector["body"]
        note = sign_checkpoint(cp, key=key, name=vector["name"])
        assert note.decode() == vector["note"]
        assert verify_checkpoint(note, verifier=vk, name=vector["name"], origin=cp.origin) == cp
        assert key_id(vector["name"], vk).hex() == vector["key_id"]
        assert verifier_key_string(vector["name"], vk) == vector["vkey"]
        assert parse_verifier_key(vector["vkey"]) == (vector["name"], vk)

    @vectors("sign_checkpoint")
    def test_sign_checkpoint_cross_checked(self, vector: dict[str, Any]) -> None:
        # Recompute the note's pieces with hashlib and pyca directly, from the
        # spec text alone (signed-note "Ed25519 signatures").
        name, public = vector["name"], bytes.fromhex(vector["public_key"])
        body, sigs = vector["note"].encode().rsplit(b"\n\n", 1)
        body += b"\n"
        assert body == vector["body"].encode()
        prefix = f"{DASH} {name} ".encode()
        assert sigs.startswith(prefix)
        assert sigs.endswith(b"\n")
        raw = base64.b64decode(sigs[len(prefix) : -1], validate=True)
        assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
        assert len(raw) == 4 + 64
        Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body)

    def test_go_sign_note_byte_for_byte(self) -> None:
        # golang.org/x/mod/sumdb/note TestSign: the Go signer key encodes
        # 0x01 || seed; our signature line must be identical.
        vector = _go_note()
        # PRIVATE+KEY+<name>+<hex id>+<base64>; the base64 may itself hold "+".
        encoded = base64.b64decode(vector["skey"].split("+", 4)[4])
        assert encoded[0] == 1
        key = SigningKey(encoded[1:])
        name, vk = parse_verifier_key(vector["vkey"])
        assert name == "PeterNeumann"
        assert key.public_key() == vk
        assert verifier_key_string(name, vk) == vector["vkey"]
        note = sign_note(vector["text"].encode(), key=key, name=name)
        assert note.decode() == vector["note"]

    def test_go_open_with_cosignature(self) -> None:
        vector = _go_note()
        text = vector["text"].encode()
        peter, peter_vk = parse_verifier_key(vector["vkey"])
        enoch, enoch_vk = parse_verifier_key(vector["cosigner_vkey"])
        cosigned = vector["cosigned_note"].encode()
        assert verify_note(cosigned, verifier=peter_vk, name=peter) == text
        assert verify_note(cosigned, verifier=enoch_vk, name=enoch) == text
        assert verify_note(vector["note"].encode(), verifier=peter_vk, name=peter) == text
        # Only Peter signed the plain note: Enoch's key finds nothing.
        with pytest.raises(ProofInvalid, match="no signature"):
            verify_note(vector["note"].encode(), verifier=enoch_vk, name=enoch)
        # The Go text is a signed note but not a checkpoint body.
        with pytest.raises(ProofInvalid, match="malformed checkpoint"):
            verify_checkpoint(cosigned, verifier=peter_vk, name=peter)

    def test_go_invalid_signature(self) -> None:
        # TestOpen "Invalid signature": four characters spliced into the signature.
        vector = _go_note()
        peter, vk = parse_verifier_key(vector["vkey"])
        text, sig = vector["note"].split("\n\n")
        bad = (text + "\n\n" + sig[:60] + "ABCD" + sig[60:]).encode()
        with pytest.raises(ProofInvalid, match="invalid signature for key PeterNeumann\\+c74f20a3"):
            verify_note(bad, verifier=vk, name=peter)

    @vectors("sumdb_checkpoint")
    def test_sum_golang_org_checkpoint(self, vector: dict[str, Any]) -> None:
        name, vk = parse_verifier_key(vector["vkey"])
        cp = verify_checkpoint(
            vector["note"].encode(), verifier=vk, name=name, origin=vector["origin"]
        )
        assert cp.origin == vector["origin"]
        assert cp.size == vector["size"]
        assert cp.root_hash == base64.b64decode(vector["root_hash_b64"])
        with pytest.raises(ProofInvalid, match="another log") as info:
            verify_checkpoint(vector["note"].encode(), verifier=vk, name=name, origin=ORIGIN)
        assert info.value.extra == {"expected": ORIGIN, "got": vector["origin"]}


class TestSignedNote:
    def test_round_trip(self) -> None:
        key = SigningKey.generate()
        cp = Checkpoint(ORIGIN, 42, ROOT, ("extension",))
        note = sign_checkpoint(cp, key=key, name=ORIGIN)
        assert note.startswith(cp.body() + b"\n" + f"{DASH} {ORIGIN} ".encode())
        assert note.count(b"\n") == 4 + 2
        assert verify_checkpoint(note, verifier=key.public_key(), name=ORIGIN) == cp

    def test_flipped_bit_in_body(self) -> None:
        note = _signed()
        for i in range(len(Checkpoint(ORIGIN, 7, ROOT).body()) - 1):
            bad = bytearray(note)
            bad[i] ^= 0x01
            with pytest.raises(ProofInvalid):
                verify_checkpoint(bytes(bad), verifier=_key().public_key(), name=ORIGIN)

    def test_changed_size_is_invalid_signature(self) -> None:
        note = _signed().replace(b"\n7\n", b"\n8\n", 1)
        with pytest.raises(ProofInvalid, match="invalid signature"):
            verify_checkpoint(note, verifier=_key().public_key(), name=ORIGIN)

    def test_flipped_bit_in_signature(self) -> None:
        note = _signed()
        body, line = note.rsplit(b"\n\n", 1)
        prefix, b64 = line[:-1].rsplit(b" ", 1)
        raw = base64.b64decode(b64)
        for i in range(4, len(raw)):
            bad = bytearray(raw)
            bad[i] ^= 0x01
            forged = body + b"\n\n" + prefix + b" " + base64.b64encode(bytes(bad)) + b"\n"
            with pytest.raises(ProofInvalid, match="invalid signature"):
                verify_checkpoint(forged, verifier=_key().public_key(), name=ORIGIN)

    def test_wrong_key(self) -> None:
        with pytest.raises(ProofInvalid, match="no signature from key") as info:
            verify_checkpoint(_signed(), verifier=SigningKey.generate().public_key(), name=ORIGIN)
        assert info.value.extra["got"] == [f"{ORIGIN}+{key_id(ORIGIN, _key().public_key()).hex()}"]

    def test_wrong_name(self) -> None:
        with pytest.raises(ProofInvalid, match="no signature from key"):
            verify_checkpoint(
                _signed(), verifier=_key().public_key(), name="strongroom.local/other/audit/v1"
            )

    def test_same_id_other_name_and_same_name_other_key_are_ignored(self) -> None:
        # signed-note "Signatures": unknown keys are ignored even when they
        # share the name or the ID, but not both, with the known key.
        vk = _key().public_key()
        body = Checkpoint(ORIGIN, 7, ROOT).body()
        same_id = _sig_line("impostor.example", key_id(ORIGIN, vk) + bytes(64))
        other = SigningKey.generate()
        same_name = _sig_line(ORIGIN, key_id(ORIGIN, other.public_key()) + other.sign(body))
        with pytest.raises(ProofInvalid, match="no signature"):
            verify_note(body + b"\n" + same_id + same_name, verifier=vk, name=ORIGIN)
        good = _signed()
        assert verify_note(good + same_id + same_name, verifier=vk, name=ORIGIN) == body

    def test_only_foreign_signature(self) -> None:
        witness = SigningKey.generate()
        note = sign_checkpoint(Checkpoint(ORIGIN, 7, ROOT), key=witness, name="witness.example")
        with pytest.raises(ProofInvalid, match="no signature"):
            verify_checkpoint(note, verifier=_key().public_key(), name=ORIGIN)

    def test_witness_cosignatures_ignored(self) -> None:
        # signed-note: verifiers MUST accept at least 16 signatures, and lines
        # of keys they do not know are ignored wherever they appear.
        body = Checkpoint(ORIGIN, 7, ROOT).body()
        ours = _signed().split(b"\n\n")[1]
        foreign = [
            sign_note(body, key=SigningKey.generate(), name=f"witness{i}.example").split(b"\n\n")[1]
            for i in range(16)
        ]
        for at in (0, 8, 16):
            sigs = b"".join([*foreign[:at], ours, *foreign[at:]])
            note = body + b"\n" + sigs
            assert verify_note(note, verifier=_key().public_key(), name=ORIGIN) == body

    def test_first_matching_signature_decides(self) -> None:
        note = _signed()
        body, line = note.split(b"\n\n")
        prefix, b64 = line[:-1].rsplit(b" ", 1)
        raw = bytearray(base64.b64decode(b64))
        raw[-1] ^= 0x01
        bad_line = prefix + b" " + base64.b64encode(bytes(raw)) + b"\n"
        vk = _key().public_key()
        with pytest.raises(ProofInvalid, match="invalid signature"):
            verify_note(body + b"\n\n" + bad_line + line, verifier=vk, name=ORIGIN)
        # A later duplicate of a verified key is skipped, as in Go's note.Open.
        assert verify_note(body + b"\n\n" + line + bad_line, verifier=vk, name=ORIGIN)

    @pytest.mark.parametrize(
        ("mangle", "reason"),
        [
            (lambda n: n.replace(b"\n\n", b"\n", 1), "no blank line"),
            (lambda n: n[:-1], "final newline"),
            (lambda n: n.split(b"\n\n")[0] + b"\n\n", "no signature lines"),
            (lambda n: n.replace(DASH.encode(), b"-", 1), "em dash"),
            (lambda n: n.replace(DASH.encode() + b" ", DASH.encode(), 1), "em dash"),
            (lambda n: n + b"Unexpected line.\n", "em dash"),
            (lambda n: n.replace(b"\n7\n", b"\n\x017\n", 1), "control character"),
            (lambda n: b"\xff" + n, "not UTF-8"),
            (lambda n: n + _sig_line("bad name", bytes(68)), "bad signature line"),
            (lambda n: n + _sig_line("a+b", bytes(68)), "bad signature line"),
            (lambda n: n + _sig_line("short", bytes(4)), "bad signature line"),
            (lambda n: n + f"{DASH} nob64\n".encode(), "bad signature line"),
            (lambda n: n + f"{DASH} x !!!!\n".encode(), "bad signature line"),
            (lambda n: n + _sig_line("w", bytes(68)) * 100, "more than 100"),
            (lambda n: n + b" " * (1 << 20), "larger than"),
        ],
    )
    def test_malformed_notes(self, mangle: Any, reason: str) -> None:
        with pytest.raises(ProofInvalid, match=reason):
            verify_note(mangle(_signed()), verifier=_key().public_key(), name=ORIGIN)

    def test_validly_signed_malformed_bodies(self) -> None:
        # The signature verifies, but the body is no checkpoint: still refused.
        root_b64 = base64.b64encode(ROOT).decode()
        for body, reason in (
            (f"{ORIGIN}\n07\n{root_b64}\n", "tree size"),
            (f"{ORIGIN}\n7\nnot-base64!\n", "root hash"),
            (f"{ORIGIN}\n7\n", "three lines"),
            (f"{ORIGIN}\n7\n{root_b64}\n\nextension after blank\n", "empty line"),
        ):
            note = sign_note(body.encode(), key=_key(), name=ORIGIN)
            with pytest.raises(ProofInvalid, match=reason):
                verify_checkpoint(note, verifier=_key().public_key(), name=ORIGIN)

    def test_text_may_hold_blank_lines(self) -> None:
        # signed-note: the LAST blank line separates text from signatures.
        text = b"first\n\nsecond\n"
        note = sign_note(text, key=_key(), name=ORIGIN)
        assert verify_note(note, verifier=_key().public_key(), name=ORIGIN) == text

    @pytest.mark.parametrize("text", [b"", b"no newline", b"tab\there\n", b"\xff\n"])
    def test_sign_note_rejects_bad_text(self, text: bytes) -> None:
        with pytest.raises(ValueError):
            sign_note(text, key=_key(), name=ORIGIN)

    @pytest.mark.parametrize("name", ["", "with space", "a+b", "nbsp\u00a0", "tab\t", "\ud800"])
    def test_bad_key_names_are_misuse(self, name: str) -> None:
        vk = _key().public_key()
        with pytest.raises(ValueError):
            sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), key=_key(), name=name)
        with pytest.raises(ValueError):
            verify_note(_signed(), verifier=vk, name=name)
        with pytest.raises(ValueError):
            verifier_key_string(name, vk)
        with pytest.raises(ValueError):
            key_id(name, vk)

    def test_types(self) -> None:
        with pytest.raises(TypeError):
            verify_note(_signed().decode(), verifier=_key().public_key(), name=ORIGIN)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            sign_note("text\n", key=_key(), name=ORIGIN)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            verify_note(_signed(), verifier=_key().public_key(), name=b"x")  # type: ignore[arg-type]

    @settings(max_examples=40, deadline=None)
    @given(
        origin=st.text(
            st.characters(min_codepoint=0x21, blacklist_categories=["Cs", "Zs", "Zl", "Zp"]),
            min_size=1,
            max_size=40,
        ).filter(lambda s: "+" not in s and not any(c.isspace() for c in s)),
        size=st.integers(min_value=0, max_value=2**64 - 1),
        root=st.binary(min_size=32, max_size=32),
    )
    def test_sign_verify_round_trip(self, origin: str, size: int, root: bytes) -> None:
        key = _key()
        cp = Checkpoint(origin, size, root)
        note = sign_checkpoint(cp, key=key, name=origin)
        assert verify_checkpoint(note, verifier=key.public_key(), name=origin, origin=origin) == cp


class TestVerifierKey:
    def test_round_trip(self) -> None:
        vk = SigningKey.generate().public_key()
        text = verifier_key_string(ORIGIN, vk)
        name, hex_id, b64 = text.split("+", 2)
        assert name == ORIGIN
        assert hex_id == key_id(ORIGIN, vk).hex()
        assert base64.b64decode(b64) == b"\x01" + vk.raw
        assert parse_verifier_key(text) == (ORIGIN, vk)

    def test_uppercase_hex_accepted(self) -> None:
        # Go parses the ID with strconv.ParseUint(_, 16, 32): either case.
        vkey = _go_note()["vkey"]
        assert parse_verifier_key(vkey.replace("c74f20a3", "C74F20A3"))[0] == "PeterNeumann"

    def test_every_mangling_rejected(self) -> None:
        # golang.org/x/mod/sumdb/note TestNewVerifier: every proper substring
        # and every single-byte increment must fail.
        vkey = _go_note()["vkey"]
        for i in range(len(vkey) + 1):
            for j in range(i + 1, len(vkey) + 1):
                if (i, j) != (0, len(vkey)):
                    with pytest.raises(InvalidInput):
                        parse_verifier_key(vkey[i:j])
        for i in range(len(vkey)):
            mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
            with pytest.raises(InvalidInput):
                parse_verifier_key(mangled)

    @pytest.mark.parametrize(
        ("vkey", "reason"),
        [
            (
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
                "malformed",  # non-canonical base64 (trailing bits), before the length check
            ),
            ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "algorithm"),
            (
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "does not match",
            ),
            ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "malformed"),
            ("", "malformed"),
        ],
    )
    def test_bad_keys(self, vkey: str, reason: str) -> None:
        # The first two are Go's "wrong length key" and "unknown algorithm",
        # each with an adjusted key ID. Go decodes base64 leniently and fails
        # the first on its length; the strict decoder here refuses it earlier.
        with pytest.raises(InvalidInput, match=reason):
            parse_verifier_key(vkey)

    def test_wrong_length_key(self) -> None:
        encoded = b"\x01" + bytes(31)
        hex_id = hashlib.sha256(b"n\n" + encoded).digest()[:4].hex()
        with pytest.raises(InvalidInput, match="32-byte"):
            parse_verifier_key(f"n+{hex_id}+{base64.b64encode(encoded).decode()}")

    def test_type(self) -> None:
        with pytest.raises(TypeError):
            parse_verifier_key(b"x+00000000+AA==")  # type: ignore[arg-type]

    def test_key_id_matches_spec_formula(self) -> None:
        vk = VerifyKey(bytes(range(32)))
        expected = hashlib.sha256(b"example.com/log\n\x01" + bytes(range(32))).digest()[:4]
        assert key_id("example.com/log", vk) == expected
