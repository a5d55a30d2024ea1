"""Manifests: canonical JSON, snapshot id, Merkle root over chunk records, strict parsing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import rfc8785

from strongroom.backup import MANIFEST_FORMAT, ChunkRecord, Manifest, StreamRecord
from strongroom.errors import IntegrityViolation, NotFound
from strongroom.ledger.merkle import EMPTY_ROOT, Frontier, leaf_hash, node_hash

CREATED = "2026-01-02T03:04:05.000006Z"
KEY_ID = "0f" * 16


def _chunk(n: int, size: int = 10) -> ChunkRecord:
    return ChunkRecord(
        id=hashlib.sha256(b"id%d" % n).hexdigest(),
        stored_sha256=hashlib.sha256(b"stored%d" % n).hexdigest(),
        size=size,
        stored_size=size + 33,
    )


def _manifest(**overrides: Any) -> Manifest:
    fields: dict[str, Any] = {
        "created": CREATED,
        "key_id": KEY_ID,
        "meta": {"ledger_size": 42, "checkpoint": "origin\n42\nroot\n"},
        "streams": [
            StreamRecord(name="db", size=20, chunks=(_chunk(1), _chunk(2))),
            StreamRecord(name="ledger", size=15, chunks=(_chunk(3, 5), _chunk(1))),
            StreamRecord(name="empty", size=0, chunks=()),
        ],
    }
    fields.update(overrides)
    return Manifest.build(**fields)


def _tampered(m: Manifest, change: Any) -> bytes:
    obj = json.loads(m.to_bytes())
    change(obj)
    return rfc8785.dumps(obj)


class TestBuild:
    def test_round_trip(self) -> None:
        m = _manifest()
        raw = m.to_bytes()
        assert Manifest.from_bytes(raw) == m
        assert Manifest.from_bytes(raw).to_bytes() == raw
        assert rfc8785.dumps(json.loads(raw)) == raw

    def test_document_shape(self) -> None:
        obj = json.loads(_manifest().to_bytes())
        assert obj["format"] == MANIFEST_FORMAT
        assert set(obj) == {"format", "id", "created", "key_id", "meta", "root", "streams"}
        assert obj["streams"][0]["chunks"][0] == {
            "id": _chunk(1).id,
            "stored_sha256": _chunk(1).stored_sha256,
            "size": 10,
            "stored_size": 43,
        }

    def test_snapshot_id_is_sha256_of_the_body_without_id(self) -> None:
        m = _manifest()
        body = json.loads(m.to_bytes())
        del body["id"]
        assert m.snapshot_id == hashlib.sha256(rfc8785.dumps(body)).hexdigest()
        assert m.object_name == f"snapshots/{m.snapshot_id}"

    def test_id_commits_to_meta_and_time(self) -> None:
        m = _manifest()
        assert _manifest(meta={"ledger_size": 43}).snapshot_id != m.snapshot_id
        assert _manifest(created="2026-01-02T03:04:05.000007Z").snapshot_id != m.snapshot_id
        assert _manifest().snapshot_id == m.snapshot_id

    def test_root_is_rfc9162_over_chunk_records_with_stream_and_offset(self) -> None:
        m = _manifest()
        leaves = [
            rfc8785.dumps({**_chunk(1).to_json(), "stream": "db", "offset": 0}),
            rfc8785.dumps({**_chunk(2).to_json(), "stream": "db", "offset": 10}),
            rfc8785.dumps({**_chunk(3, 5).to_json(), "stream": "ledger", "offset": 0}),
            rfc8785.dumps({**_chunk(1).to_json(), "stream": "ledger", "offset": 5}),
        ]
        assert m.leaves() == leaves
        h = [leaf_hash(x) for x in leaves]
        assert m.root == node_hash(node_hash(h[0], h[1]), node_hash(h[2], h[3])).hex()
        assert m.root == Frontier().extend(h)[0].root().hex()

    def test_root_binds_stream_boundaries(self) -> None:
        moved = _manifest(
            streams=[
                StreamRecord(name="db", size=10, chunks=(_chunk(1),)),
                StreamRecord(name="ledger", size=25, chunks=(_chunk(2), _chunk(3, 5), _chunk(1))),
            ]
        )
        assert moved.root != _manifest().root

    def test_empty_snapshot(self) -> None:
        m = _manifest(streams=[])
        assert m.root == EMPTY_ROOT.hex()
        assert Manifest.from_bytes(m.to_bytes()) == m

    def test_lookups(self) -> None:
        m = _manifest()
        assert m.stream("ledger").size == 15
        assert m.size == 35
        assert [c.id for c in m.chunks()] == [_chunk(1).id, _chunk(2).id, _chunk(3).id]
        with pytest.raises(NotFound):
            m.stream("nope")
        assert _chunk(1).object_name == f"chunks/{_chunk(1).id[:2]}/{_chunk(1).id}"

    def test_meta_is_copied_and_read_only(self) -> None:
        meta: dict[str, Any] = {"a": [1, 2]}
        m = _manifest(meta=meta)
        meta["a"].append(3)
        meta["b"] = 1
        assert dict(m.meta) == {"a": [1, 2]}
        with pytest.raises(TypeError):
            m.meta["b"] = 2  # type: ignore[index]

    def test_meta_must_be_json(self) -> None:
        with pytest.raises(TypeError):
            _manifest(meta={"when": object()})
        with pytest.raises(TypeError):
            _manifest(meta=[1])

    def test_stream_names_unique_and_sane(self) -> None:
        with pytest.raises(ValueError, match="unique"):
            _manifest(streams=[StreamRecord(name="a", size=0, chunks=()), StreamRecord("a", 0, ())])
        for bad in ("", "x" * 256, "a\nb"):
            with pytest.raises(ValueError):
                StreamRecord(name=bad, size=0, chunks=())

    def test_stream_size_must_add_up(self) -> None:
        with pytest.raises(ValueError, match="sum"):
            StreamRecord(name="db", size=11, chunks=(_chunk(1),))

    @pytest.mark.parametrize(
        "fields",
        [
            {"id": "AB" * 32},
            {"id": "ab" * 31},
            {"stored_sha256": "zz" * 32},
            {"size": -1},
            {"size": True},
            {"stored_size": 1.5},
        ],
    )
    def test_chunk_record_validated(self, fields: dict[str, Any]) -> None:
        base = _chunk(1).to_json()
        base.update(fields)
        with pytest.raises(ValueError):
            ChunkRecord(**base)

    def test_constructor_rejects_inconsistent_root_or_id(self) -> None:
        m = _manifest()
        with pytest.raises(ValueError, match="root"):
            Manifest(m.snapshot_id, m.created, m.key_id, m.meta, m.streams, "00" * 32)
        with pytest.raises(ValueError, match="snapshot id"):
            Manifest("00" * 32, m.created, m.key_id, m.meta, m.streams, m.root)

    def test_hashable_by_id(self) -> None:
        assert len({_manifest(), _manifest()}) == 1


class TestParse:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda o: o.update(format="strongroom-backup-manifest/v9"), "unsupported"),
            (lambda o: o.update(extra=1), "fields"),
            (lambda o: o.pop("meta"), "fields"),
            (lambda o: o.update(id="00" * 32), "snapshot id does not recompute"),
            (lambda o: o.update(root="00" * 32), "Merkle root does not recompute"),
            (lambda o: o.update(created="yesterday"), "created"),
            (lambda o: o.update(key_id="nope"), "key_id"),
            (lambda o: o.update(meta=[]), "meta"),
            (lambda o: o.update(streams={}), "streams"),
            (lambda o: o["streams"][0].update(size=21), "size"),
            (lambda o: o["streams"][0].update(extra=1), "stream 0"),
            (lambda o: o["streams"][1]["chunks"][0].update(size=-5), "stream 1 chunk 0"),
            (lambda o: o["streams"][1]["chunks"][0].pop("stored_sha256"), "stream 1 chunk 0"),
            (lambda o: o["streams"][0]["chunks"][1].update(stored_sha256="a" * 64), "root"),
            (lambda o: o["streams"][0].update(chunks="x"), "chunks must be a list"),
            (lambda o: o["streams"].append(o["streams"][0]), "unique"),
        ],
    )
    def test_tampering_is_named(self, change: Any, message: str) -> None:
        with pytest.raises(IntegrityViolation, match=message):
            Manifest.from_bytes(_tampered(_manifest(), change))

    def test_non_canonical_bytes_are_refused(self) -> None:
        raw = _manifest().to_bytes()
        spaced = json.dumps(json.loads(raw), indent=1).encode()
        with pytest.raises(IntegrityViolation, match="canonical"):
            Manifest.from_bytes(spaced)

    @pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", b"\xff\xfe", b'"text"'])
    def test_not_a_manifest(self, raw: bytes) -> None:
        with pytest.raises(IntegrityViolation):
            Manifest.from_bytes(raw)

    def test_every_single_byte_flip_is_caught(self) -> None:
        raw = _manifest(streams=[StreamRecord("db", 10, (_chunk(1),))], meta={}).to_bytes()
        for i in range(len(raw)):
            flipped = bytearray(raw)
            flipped[i] ^= 0x01
            with pytest.raises(IntegrityViolation):
                Manifest.from_bytes(bytes(flipped))
