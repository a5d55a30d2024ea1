"""S3Target against a real S3 HTTP API on loopback (moto's server), and the Target contract.

The contract tests run on LocalTarget and S3Target alike (``make_target`` is
parametrized), so both answer every call the same way.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from strongroom.backup import (
    ChunkSizes,
    ProblemKind,
    Repository,
    S3Target,
    Target,
    open_target,
)
from strongroom.crypto import KEK, BackupKey
from strongroom.errors import Conflict, InvalidInput, NotFound, StorageUnavailable

from .conftest import BUCKET, REGION, MotoS3

SMALL = ChunkSizes.around(64 * 1024)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _recording_client(endpoint: str, sent: list[Any]) -> Any:
    """A boto3 client as S3Target makes one, that records each request it sends."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(
            request_checksum_calculation="when_required", s3={"addressing_style": "path"}
        ),
    )
    client.meta.events.register("before-send.s3.*", lambda request, **_: sent.append(request))
    return client


def _header(request: Any, name: str) -> str | None:
    """A header of a recorded request as str (botocore keeps some as bytes)."""
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def _assert_clean(message: str) -> None:
    """One line, and no credential, signature or URL in it."""
    assert "\n" not in message
    for leak in ("testing", "Signature", "X-Amz", "http://", "https://"):
        assert leak not in message, message


class TestTargetContract:
    """What every Target does; run on LocalTarget and S3Target."""

    def test_is_a_target(self, make_target: Callable[[], Target]) -> None:
        assert isinstance(make_target(), Target)

    def test_put_get_exists_delete(self, make_target: Callable[[], Target]) -> None:
        t = make_target()
        t.put("chunks/ab/abcd", b"data")
        assert t.get("chunks/ab/abcd") == b"data"
        assert t.exists("chunks/ab/abcd")
        assert not t.exists("chunks/ab/other")
        t.delete("chunks/ab/abcd")
        assert not t.exists("chunks/ab/abcd")
        t.delete("chunks/ab/abcd")  # absent: not an error
        t.delete("never/was")

    def test_binary_and_empty_objects_round_trip(self, make_target: Callable[[], Target]) -> None:
        t = make_target()
        blob = os.urandom(300_000)
        t.put("chunks/00/blob", blob)
        t.put("empty", b"")
        assert t.get("chunks/00/blob") == blob
        assert t.get("empty") == b""
        assert t.exists("empty")

    def test_get_absent_is_not_found(self, make_target: Callable[[], Target]) -> None:
        with pytest.raises(NotFound, match=r"^object config not found$"):
            make_target().get("config")

    def test_refuses_to_overwrite_unless_asked(self, make_target: Callable[[], Target]) -> None:
        t = make_target()
        t.put("config", b"one")
        with pytest.raises(Conflict, match=r"^object config already exists$"):
            t.put("config", b"two")
        assert t.get("config") == b"one"
        t.put("config", b"two", overwrite=True)
        assert t.get("config") == b"two"
        t.put("fresh", b"new", overwrite=True)  # overwrite of nothing is a plain put
        assert t.list("") == ["config", "fresh"]

    def test_accepts_buffers_only(self, make_target: Callable[[], Target]) -> None:
        t = make_target()
        t.put("a", bytearray(b"xy"))  # type: ignore[arg-type]
        t.put("b", memoryview(b"zw"))  # type: ignore[arg-type]
        assert (t.get("a"), t.get("b")) == (b"xy", b"zw")
        with pytest.raises(TypeError):
            t.put("c", "text")  # type: ignore[arg-type]
        assert not t.exists("c")

    def test_list_by_prefix_sorted(self, make_target: Callable[[], Target]) -> None:
        t = make_target()
        names = ["snapshots/b", "snapshots/a", "chunks/00/00ff", "chunks/01/01aa", "config"]
        for name in names:
            t.put(name, b"x")
        assert t.list("snapshots/") == ["snapshots/a", "snapshots/b"]
        assert t.list("chunks/") == ["chunks/00/00ff", "chunks/01/01aa"]
        assert t.list("chunks/01") == ["chunks/01/01aa"]
        assert t.list("c") == ["chunks/00/00ff", "chunks/01/01aa", "config"]
        assert t.list("") == sorted(names)
        assert t.list("nothing/") == []
        assert make_target().list("") == []

    @pytest.mark.parametrize("name", ["", "..", "../x", "/etc/passwd", "a//b", ".hidden", "a b"])
    def test_invalid_names_are_refused(self, make_target: Callable[[], Target], name: str) -> None:
        t = make_target()
        for call in (lambda: t.put(name, b"x"), lambda: t.get(name), lambda: t.exists(name)):
            with pytest.raises(InvalidInput):
                call()
        with pytest.raises(InvalidInput):
            t.delete(name)
        assert t.list("") == []

    @pytest.mark.parametrize("prefix", ["/", "../", "a//", "./", "\\"])
    def test_invalid_prefixes(self, make_target: Callable[[], Target], prefix: str) -> None:
        with pytest.raises(InvalidInput):
            make_target().list(prefix)


class TestS3Target:
    def test_objects_are_keys_under_the_prefix(
        self, make_s3_target: Callable[..., S3Target], moto_s3: MotoS3
    ) -> None:
        t = make_s3_target("vaults/one")
        assert (t.bucket, t.prefix, t.url) == (BUCKET, "vaults/one/", f"s3://{BUCKET}/vaults/one/")
        t.put("chunks/ab/ab01", b"sealed")
        stored = moto_s3.client.get_object(Bucket=BUCKET, Key="vaults/one/chunks/ab/ab01")
        assert stored["Body"].read() == b"sealed"
        # A neighbour prefix is another namespace.
        assert make_s3_target("vaults/one-other").list("") == []
        # An enclosing prefix sees it as a nested name.
        assert make_s3_target("vaults").list("one/") == ["one/chunks/ab/ab01"]

    @pytest.mark.parametrize(
        ("given", "prefix"), [("", ""), ("a", "a/"), ("a/b/", "a/b/"), ("/a/b", "a/b/")]
    )
    def test_prefix_is_folder_like(self, given: str, prefix: str) -> None:
        assert S3Target(BUCKET, given).prefix == prefix

    @pytest.mark.parametrize("prefix", ["a//b", "../x", "a/./b", "a b", ".hidden"])
    def test_invalid_prefix(self, prefix: str) -> None:
        with pytest.raises(InvalidInput, match="invalid S3 key prefix"):
            S3Target(BUCKET, prefix)

    @pytest.mark.parametrize("bucket", ["", "a", "bucket/x", "b:1", "user@bucket", "-x" * 200])
    def test_invalid_bucket(self, bucket: str) -> None:
        with pytest.raises(InvalidInput, match="invalid S3 bucket name"):
            S3Target(bucket)

    @pytest.mark.parametrize(
        "endpoint", ["ftp://host", "host:9000", "http://", "http://h/?x=1", "http://h/#f"]
    )
    def test_invalid_endpoint(self, endpoint: str) -> None:
        with pytest.raises(InvalidInput, match="invalid S3 endpoint URL"):
            S3Target(BUCKET, endpoint_url=endpoint)

    def test_endpoint_with_credentials_is_refused_without_echo(self) -> None:
        with pytest.raises(InvalidInput) as info:
            S3Target(BUCKET, endpoint_url="https://AKIA:s3kr1t@minio.internal:9000")
        assert "s3kr1t" not in str(info.value)
        assert "AKIA" not in str(info.value)

    def test_construction_reaches_no_network(self) -> None:
        # No client yet: a closed port and no credentials do not matter until first use.
        t = S3Target(BUCKET, "p", endpoint_url=f"http://127.0.0.1:{_closed_port()}")
        assert repr(t).startswith(f"S3Target('s3://{BUCKET}/p/', endpoint='127.0.0.1:")

    def test_put_is_conditional_and_carries_content_md5(
        self, moto_s3: MotoS3, aws_env: None
    ) -> None:
        sent: list[Any] = []
        t = S3Target(BUCKET, "md5", client=_recording_client(moto_s3.endpoint, sent))
        t.put("config", b"one")
        with pytest.raises(Conflict):
            t.put("config", b"two")
        t.put("config", b"three", overwrite=True)
        puts = [r for r in sent if r.method == "PUT"]
        assert [_header(r, "If-None-Match") for r in puts] == ["*", "*", None]
        for request, data in zip(puts, [b"one", b"two", b"three"], strict=True):
            expected = base64.b64encode(hashlib.md5(data).digest()).decode()
            assert _header(request, "Content-MD5") == expected
        assert t.get("config") == b"three"
        assert "127.0.0.1" in repr(t)  # the endpoint comes from the client given

    def test_object_written_by_someone_else_is_not_overwritten(
        self, make_s3_target: Callable[..., S3Target], moto_s3: MotoS3
    ) -> None:
        t = make_s3_target("other-writer")
        moto_s3.client.put_object(Bucket=BUCKET, Key="other-writer/snapshots/x", Body=b"theirs")
        with pytest.raises(Conflict, match="already exists"):
            t.put("snapshots/x", b"mine")
        assert t.get("snapshots/x") == b"theirs"

    def test_server_without_conditional_writes_falls_back(
        self, legacy_s3_endpoint: str, aws_env: None
    ) -> None:
        sent: list[Any] = []
        t = S3Target(BUCKET, "legacy", client=_recording_client(legacy_s3_endpoint, sent))
        t.put("a", b"1")
        t.put("b", b"2")
        with pytest.raises(Conflict, match=r"^object a already exists$"):
            t.put("a", b"changed")
        t.put("b", b"3", overwrite=True)
        assert (t.get("a"), t.get("b")) == (b"1", b"3")
        # Only the first put tried the header; the 501 was remembered.
        conditional = [r for r in sent if r.method == "PUT" and "If-None-Match" in r.headers]
        assert len(conditional) == 1

    def test_legacy_fallback_with_the_default_client(
        self, make_s3_target: Callable[..., S3Target], legacy_s3_endpoint: str
    ) -> None:
        t = make_s3_target("legacy-default", endpoint_url=legacy_s3_endpoint)
        t.put("config", b"one")
        with pytest.raises(Conflict):
            t.put("config", b"two")
        assert t.get("config") == b"one"

    def test_list_follows_continuation_tokens(
        self, make_s3_target: Callable[..., S3Target], moto_s3: MotoS3
    ) -> None:
        t = make_s3_target("many")
        # 1,100 objects straight into moto's store (a PUT each over HTTP takes
        # seconds); the listing under test still goes over HTTP, in two pages.
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        names = [f"chunks/{i % 256:02x}/{i:05d}" for i in range(1100)]
        for name in names:
            backend.put_object(BUCKET, f"many/{name}", b"")
        # Keys no Target could have written are skipped, as LocalTarget skips dot files.
        for junk in ("many/chunks/", "many/chunks/.tmp-1", "many/a//b"):
            backend.put_object(BUCKET, junk, b"")
        first = moto_s3.client.list_objects_v2(Bucket=BUCKET, Prefix="many/chunks/")
        assert first["IsTruncated"]  # more than one page, really
        assert t.list("chunks/") == sorted(names)
        assert t.list("chunks/0a/") == sorted(n for n in names if n.startswith("chunks/0a/"))
        assert len(t.list("")) == 1100

    def test_no_such_bucket_is_storage_unavailable(self, moto_s3: MotoS3, aws_env: None) -> None:
        t = S3Target("no-such-bucket", endpoint_url=moto_s3.endpoint)
        with pytest.raises(StorageUnavailable) as info:
            t.get("config")
        assert str(info.value) == "cannot read config: the S3 bucket no-such-bucket does not exist"
        assert info.value.extra == {"s3_error": "NoSuchBucket", "http_status": 404}
        with pytest.raises(StorageUnavailable, match="does not exist"):
            t.put("config", b"x")
        with pytest.raises(StorageUnavailable, match="does not exist"):
            t.list("")

    def test_unreachable_endpoint_is_storage_unavailable(
        self, make_s3_target: Callable[..., S3Target]
    ) -> None:
        port = _closed_port()
        t = make_s3_target("down", endpoint_url=f"http://127.0.0.1:{port}")
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as info:
            t.get("config")
        assert time.monotonic() - started < 30
        assert (
            str(info.value) == f"cannot read config: cannot reach the S3 endpoint 127.0.0.1:{port}"
        )
        assert info.value.diagnostics().startswith("Storage unavailable: cannot read config")
        _assert_clean(str(info.value))
        assert isinstance(info.value.__cause__, Exception)  # translated once, chained
        for call, action in [
            (lambda: t.put("config", b"x"), "write config"),
            (lambda: t.exists("config"), "read config"),
            (lambda: t.list("snapshots/"), "list snapshots/"),
            (lambda: t.delete("config"), "delete config"),
        ]:
            with pytest.raises(StorageUnavailable, match=f"^cannot {action}: cannot reach") as info:
                call()
            _assert_clean(str(info.value))

    def test_missing_credentials_are_storage_unavailable(
        self, make_s3_target: Callable[..., S3Target], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        t = make_s3_target("nocreds")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name)
        with pytest.raises(StorageUnavailable) as info:
            t.put("config", b"x")
        assert str(info.value) == "cannot write config: no usable AWS credentials " + (
            "(see the standard AWS credential chain)"
        )

    def test_unknown_profile_is_storage_unavailable(
        self, make_s3_target: Callable[..., S3Target], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AWS_PROFILE", "nobody")
        with pytest.raises(StorageUnavailable, match="no usable AWS credentials"):
            make_s3_target("profile").exists("config")


class TestOpenTargetS3:
    def test_s3_url(self, moto_s3: MotoS3) -> None:
        t = open_target(
            f"s3://{BUCKET}/some/prefix", s3_endpoint=moto_s3.endpoint, s3_region="eu-west-3"
        )
        assert isinstance(t, S3Target)
        assert (t.bucket, t.prefix) == (BUCKET, "some/prefix/")
        assert "127.0.0.1" in repr(t)

    @pytest.mark.parametrize(
        ("url", "prefix"), [("s3://b-1", ""), ("s3://b-1/", ""), ("s3://b-1/x/", "x/")]
    )
    def test_bucket_only_and_trailing_slash(self, url: str, prefix: str) -> None:
        t = open_target(url)
        assert isinstance(t, S3Target)
        assert t.prefix == prefix

    @pytest.mark.parametrize(
        "url",
        ["s3://", "s3:///prefix", "s3://bucket/p?versionId=1", "s3://bucket/p#f", "s3://b/a//c"],
    )
    def test_malformed_s3_urls(self, url: str) -> None:
        with pytest.raises(InvalidInput):
            open_target(url)

    def test_credentials_in_the_url_are_refused_without_echo(self) -> None:
        with pytest.raises(InvalidInput) as info:
            open_target("s3://AKIAEXAMPLE:s3kr1t@bucket/prefix")
        assert "s3kr1t" not in str(info.value)
        assert "AKIAEXAMPLE" not in str(info.value)

    def test_other_schemes_stay_unsupported(self) -> None:
        with pytest.raises(InvalidInput, match="unsupported target"):
            open_target("gs://bucket/prefix")


class S3Vault:
    """A repository on an S3 target, its key and KEK, and direct access to the bucket."""

    def __init__(self, target: S3Target, moto_s3: MotoS3) -> None:
        self.target = target
        self.s3 = moto_s3
        self.kek = KEK.generate(version=1)
        self.key = BackupKey.generate()
        self.repo = Repository.init(
            target,
            key=self.key,
            wrapped_key=self.key.wrap_with(self.kek),
            key_material={"kek_version": "1"},
            chunk_sizes=SMALL,
        )

    def flip(self, name: str, position: int) -> None:
        """Flip one byte of a stored object, behind the target's back."""
        key = self.target.prefix + name
        raw = bytearray(self.s3.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        raw[position] ^= 0x01
        self.s3.client.put_object(Bucket=BUCKET, Key=key, Body=bytes(raw))


@pytest.fixture
def s3_vault(make_s3_target: Callable[..., S3Target], moto_s3: MotoS3) -> S3Vault:
    """A fresh repository on the moto server."""
    return S3Vault(make_s3_target(), moto_s3)


class TestRepositoryOnS3:
    def test_round_trip_with_dedup(self, s3_vault: S3Vault, moto_s3: MotoS3) -> None:
        v = s3_vault
        data = os.urandom(400_000)
        first = v.repo.write_snapshot({"db": io.BytesIO(data)}, key=v.key, meta={"n": 1})
        again = v.repo.write_snapshot({"db": io.BytesIO(data)}, key=v.key, meta={"n": 2})
        assert first.stats.chunks_new > 1
        assert again.stats.chunks_new == 0
        assert first.root == again.root
        # Reopened through open_target, as the CLI does.
        reopened = Repository.open(
            open_target(f"s3://{BUCKET}/{v.target.prefix}", s3_endpoint=moto_s3.endpoint)
        )
        assert reopened.repo_id == v.repo.repo_id
        assert [m.snapshot_id for m in reopened.list_snapshots()] == [
            first.snapshot_id,
            again.snapshot_id,
        ]
        keyless = reopened.verify(again)
        assert keyless.ok, keyless.problems
        assert keyless.chunks_checked == len(list(again.chunks()))
        assert reopened.verify(again, key=v.key).ok
        assert b"".join(reopened.read_stream(again, "db", key=v.key)) == data
        assert len(v.target.list("chunks/")) == first.stats.chunks_new

    def test_flipped_chunk_byte_is_named(self, s3_vault: S3Vault) -> None:
        v = s3_vault
        m = v.repo.write_snapshot({"db": io.BytesIO(os.urandom(200_000))}, key=v.key, meta={"n": 1})
        record = next(iter(m.chunks()))
        v.flip(record.object_name, 40)
        result = v.repo.verify(m)
        assert [(p.object_name, p.kind) for p in result.problems] == [
            (record.object_name, ProblemKind.CORRUPT)
        ]

    def test_init_twice_is_a_conflict(self, s3_vault: S3Vault) -> None:
        with pytest.raises(Conflict):
            Repository.init(
                s3_vault.target,
                key=s3_vault.key,
                wrapped_key=s3_vault.key.wrap_with(s3_vault.kek),
                key_material={},
            )
