"""Proof documents: built by the vault, verified offline, and refused when altered."""

from __future__ import annotations

import base64
import json

import pytest

from strongroom.crypto import SigningKey
from strongroom.errors import IntegrityViolation, InvalidInput, NotFound, ProofInvalid
from strongroom.ledger.checkpoint import verifier_key_string
from strongroom.ledger.proofs import ProofDocument, parse_document, verify_document
from strongroom.vault import Principal, Vault
from strongroom.vault.audit_proofs import proof_document


def _doc(vault: Vault, root: Principal, n: int = 6) -> ProofDocument:
    for i in range(n):
        vault.kv.put(root, "secret", f"p/{i}", {"i": i})
    size = vault.audit.size()
    return proof_document(vault.audit, [1, size - 1, 3])


def _round_trip(doc: ProofDocument) -> ProofDocument:
    return parse_document(json.dumps(doc.to_json()).encode())


class TestProofDocuments:
    def test_verifies_offline_with_the_trusted_key(self, vault: Vault, root: Principal) -> None:
        doc = _round_trip(_doc(vault, root))
        cp = verify_document(doc, trusted_key=vault.audit.verifier_key())
        assert [i.leaf_index for i in doc.items] == [1, vault.audit.size() - 1, 3]
        # The newest entry was brought under a fresh checkpoint to be proven.
        assert cp.size >= max(i.leaf_index for i in doc.items) + 1

    def test_an_altered_entry_fails_and_is_named(self, vault: Vault, root: Principal) -> None:
        obj = _doc(vault, root).to_json()
        entry = bytearray(base64.b64decode(obj["items"][1]["leaf_input"]))
        entry[entry.index(b'"outcome":"allowed"') + 11] = ord("A")
        obj["items"][1]["leaf_input"] = base64.b64encode(bytes(entry)).decode()
        with pytest.raises(ProofInvalid, match="item 1"):
            verify_document(parse_document(json.dumps(obj).encode()))

    def test_an_altered_path_or_index_fails(self, vault: Vault, root: Principal) -> None:
        obj = _doc(vault, root).to_json()
        moved = json.loads(json.dumps(obj))
        moved["items"][0]["leaf_index"] = 2
        with pytest.raises(ProofInvalid, match="item 0"):
            verify_document(parse_document(json.dumps(moved).encode()))
        cut = json.loads(json.dumps(obj))
        cut["items"][2]["audit_path"] = cut["items"][2]["audit_path"][:-1]
        with pytest.raises(ProofInvalid, match="item 2"):
            verify_document(parse_document(json.dumps(cut).encode()))

    def test_another_key_or_forged_checkpoint_fails(self, vault: Vault, root: Principal) -> None:
        doc = _doc(vault, root)
        other = verifier_key_string("other.example/log", SigningKey.generate().public_key())
        with pytest.raises(ProofInvalid, match="another verifier key"):
            verify_document(doc, trusted_key=other)
        forged = doc.to_json()
        forged["checkpoint"] = forged["checkpoint"].replace("\n", "\n ", 1)
        with pytest.raises(ProofInvalid):
            verify_document(parse_document(json.dumps(forged).encode()))

    @pytest.mark.parametrize(
        "raw",
        [
            b"not json",
            b"[]",
            b'{"format": "strongroom-proofs/v1"}',
            b'{"format": "strongroom-proofs/v1", "verifier_key": "k", "checkpoint": "c",'
            b' "items": [{"leaf_index": -1, "leaf_input": "", "audit_path": []}]}',
            b'{"format": "strongroom-proofs/v1", "verifier_key": "k", "checkpoint": "c",'
            b' "items": [{"leaf_index": 0, "leaf_input": "***", "audit_path": []}]}',
        ],
    )
    def test_malformed_documents_are_refused(self, raw: bytes) -> None:
        with pytest.raises(IntegrityViolation):
            parse_document(raw)

    def test_bad_requests(self, vault: Vault, root: Principal) -> None:
        vault.kv.put(root, "secret", "p", {"i": 0})
        with pytest.raises(InvalidInput):
            proof_document(vault.audit, [])
        with pytest.raises(InvalidInput):
            proof_document(vault.audit, [0, 0])
        with pytest.raises(NotFound):
            proof_document(vault.audit, [10_000])
