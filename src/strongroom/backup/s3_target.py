"""A :class:`~strongroom.backup.Target` in an S3 bucket (AWS or any S3-compatible store).

Object ``name`` is stored under the key ``prefix + name``, so several
repositories can share a bucket. The semantics are those of
:class:`~strongroom.backup.LocalTarget`:

* ``put`` is atomic and durable (S3 stores a whole object or none, and only
  answers once it is stored), carries a ``Content-MD5`` so the server refuses
  a body damaged in transit, and without ``overwrite`` never replaces an
  object: it is a conditional write (``If-None-Match: *``), and a 412
  answer is :class:`~strongroom.errors.Conflict`, as for a local file.
* ``get`` of an absent object is :class:`~strongroom.errors.NotFound`;
  ``delete`` of one is not an error; ``list`` follows continuation tokens
  and returns sorted names relative to the prefix.
* Every other failure (no network, no credentials, access denied, no such
  bucket, throttling) is :class:`~strongroom.errors.StorageUnavailable` with
  a one-line reason that names no credential and no signed URL.

Credentials come from the standard AWS chain (environment variables, the
shared config and credentials files, SSO, an instance or task role), never
from Strongroom's settings. The client is made on first use, so building a
target reads nothing and reaches no network.

Example::

    >>> target = S3Target("backups", "vault-1", endpoint_url="http://127.0.0.1:9000")
    >>> target.url, target.prefix
    ('s3://backups/vault-1/', 'vault-1/')
    >>> target
    S3Target('s3://backups/vault-1/', endpoint='127.0.0.1:9000')
    >>> target.get("../etc/passwd")
    Traceback (most recent call last):
    ...
    strongroom.errors.InvalidInput: invalid object name '../etc/passwd'
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import urllib.parse
from typing import Any, Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from strongroom.backup.target import _MAX_NAME, _NAME_RE, _PREFIX_RE, validate_name
from strongroom.errors import Conflict, InvalidInput, NotFound, StorageUnavailable

__all__ = ["S3Target"]

# Bucket names as S3 and its look-alikes accept them (AWS is stricter: 3-63
# lowercase characters); no "/", ":" or "@", so a URL cannot smuggle a host.
_BUCKET_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")
# Error codes are echoed into messages only if they look like S3 codes.
_CODE_RE: Final = re.compile(r"[A-Za-z0-9.]{1,64}")
# HEAD answers carry no body, so a missing key is only the status, "404".
_ABSENT: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_BAD_CREDENTIALS: Final = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"}
)
_DAMAGED: Final = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
_BUSY: Final = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeTooSkewed"}
)
# Connections kept per client: the chunk uploader runs a few puts at once.
_POOL: Final = 16


class S3Target:
    """A :class:`~strongroom.backup.Target` holding objects as ``prefix + name`` in ``bucket``.

    ``prefix`` is a folder-like key prefix (``/`` is appended if missing; ``""``
    is the whole bucket). ``endpoint_url`` selects an S3-compatible store
    (MinIO, Ceph, R2, ...; path-style addressing) and ``None`` means AWS;
    ``region`` signs the requests. ``client`` is a ready boto3 S3 client, used
    as is (``endpoint_url`` and ``region`` are then ignored). The target is
    safe to share between threads. Unlike a directory, a bucket lets ``a``
    and ``a/b`` both exist; the repository layout never asks for that.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any | None = None,
    ) -> None:
        if not isinstance(bucket, str):
            raise TypeError("bucket must be str")
        if not isinstance(prefix, str):
            raise TypeError("prefix must be str")
        if not _BUCKET_RE.fullmatch(bucket):
            raise InvalidInput(f"invalid S3 bucket name {bucket!r}")
        folder = prefix.strip("/")
        if folder:
            try:
                validate_name(folder)
            except InvalidInput:
                raise InvalidInput(f"invalid S3 key prefix {prefix!r}") from None
        if endpoint_url is not None:
            _check_endpoint(endpoint_url)
        self._bucket = bucket
        self._prefix = f"{folder}/" if folder else ""
        self._endpoint_url = endpoint_url
        self._region = region
        self._client = client
        self._lock = threading.Lock()
        # False once the server has said it does not implement If-None-Match.
        self._conditional_writes = True

    @property
    def bucket(self) -> str:
        """The bucket holding the objects."""
        return self._bucket

    @property
    def prefix(self) -> str:
        """The key prefix of every object: ``""`` or a string ending in ``/``."""
        return self._prefix

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``, the form :func:`~strongroom.backup.open_target` takes."""
        return f"s3://{self._bucket}/{self._prefix}"

    def __repr__(self) -> str:
        return f"S3Target({self.url!r}, endpoint={self._endpoint_host()!r})"

    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        """Store ``data`` as ``name``; Conflict if it exists and not ``overwrite``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes")
        key = self._key(name)
        body = bytes(data)
        # S3 recomputes the MD5 of what it received and refuses a mismatch
        # (BadDigest), so a body damaged between here and the disk is never
        # stored. MD5 is a transfer checksum here, not a security measure.
        digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        request = {"Bucket": self._bucket, "Key": key, "Body": body, "ContentMD5": digest}
        try:
            if overwrite:
                self._s3().put_object(**request)
            elif self._conditional_writes:
                self._put_if_absent(name, request)
            else:
                self._check_then_put(name, request)
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc, "write", name) from exc

    def get(self, name: str) -> bytes:
        """Return the bytes of ``name``; NotFound if absent."""
        key = self._key(name)
        try:
            response = self._s3().get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                raise NotFound(f"object {name} not found") from None
            raise self._unavailable(exc, "read", name) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc, "read", name) from exc
        return data

    def exists(self, name: str) -> bool:
        """Return whether ``name`` is a stored object."""
        key = self._key(name)
        try:
            self._s3().head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return False
            raise self._unavailable(exc, "read", name) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc, "read", name) from exc
        return True

    def list(self, prefix: str) -> list[str]:
        """Return the stored names that start with ``prefix``, sorted.

        Follows ``ListObjectsV2`` continuation tokens to the last page. Keys
        under the target's prefix that are not valid object names (a console's
        ``folder/`` marker, say) are skipped, as a local target skips dot files.
        """
        if not isinstance(prefix, str):
            raise TypeError("prefix must be str")
        if len(prefix) > _MAX_NAME or not _PREFIX_RE.fullmatch(prefix):
            raise InvalidInput(f"invalid object name prefix {prefix!r}")
        request: dict[str, Any] = {"Bucket": self._bucket, "Prefix": self._prefix + prefix}
        names: list[str] = []
        try:
            client = self._s3()
            while True:
                page = client.list_objects_v2(**request)
                for item in page.get("Contents", ()):
                    name = str(item["Key"])[len(self._prefix) :]
                    if len(name) <= _MAX_NAME and _NAME_RE.fullmatch(name):
                        names.append(name)
                if not page.get("IsTruncated"):
                    break
                token = page.get("NextContinuationToken")
                if not token:
                    # Looping without a token would list the first page forever.
                    raise StorageUnavailable(
                        f"cannot list {prefix or '/'}: S3 cut the listing short "
                        "without a continuation token"
                    )
                request["ContinuationToken"] = token
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc, "list", prefix or "/") from exc
        names.sort()
        return names

    def delete(self, name: str) -> None:
        """Remove ``name``; an absent object is not an error."""
        key = self._key(name)
        try:
            self._s3().delete_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            # S3 answers 204 for an absent key; some look-alikes answer 404.
            if _code(exc) in _ABSENT:
                return
            raise self._unavailable(exc, "delete", name) from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc, "delete", name) from exc

    def _put_if_absent(self, name: str, request: dict[str, Any]) -> None:
        """Put with ``If-None-Match: *``; fall back once the server says it cannot."""
        try:
            self._s3().put_object(IfNoneMatch="*", **request)
        except ClientError as exc:
            code = _code(exc)
            # 412: the key exists. 409 ConditionalRequestConflict: another
            # conditional write of the same key is in flight; whichever one
            # lands, the key is taken, as when two local writers race link(2).
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or _status(exc) == 412:
                raise Conflict(f"object {name} already exists") from None
            if code != "NotImplemented" and _status(exc) != 501:
                raise
            # S3 before August 2024 and some S3-compatible stores answer 501
            # NotImplemented to a conditional put: remember, and fall back.
            self._conditional_writes = False
            self._check_then_put(name, request)

    def _check_then_put(self, name: str, request: dict[str, Any]) -> None:
        """Put unless the key exists, for servers without conditional writes.

        A concurrent writer can race the check and the put, and the last put
        wins. Chunks are content-addressed, so two writers store the same
        bytes; one writer per repository is the supported setup (as for a
        local target without hard links). A server that silently ignores
        ``If-None-Match`` cannot be told apart and behaves like this too.
        """
        try:
            self._s3().head_object(Bucket=self._bucket, Key=request["Key"])
        except ClientError as exc:
            if _code(exc) not in _ABSENT:
                raise
        else:
            raise Conflict(f"object {name} already exists")
        self._s3().put_object(**request)

    def _key(self, name: str) -> str:
        return self._prefix + validate_name(name)

    def _s3(self) -> Any:
        """The boto3 client, made on first use (that resolves the credentials)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
                client = self._client
        return client

    def _make_client(self) -> Any:
        # boto3 is imported here, not at the top: it takes about a second,
        # which every command importing strongroom.backup would otherwise pay.
        import boto3
        from botocore.config import Config

        s3_options = {"addressing_style": "path"} if self._endpoint_url else {}
        config = Config(
            region_name=self._region,
            connect_timeout=10,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=_POOL,
            # We send Content-MD5 ourselves. botocore's default since 1.36
            # adds a CRC32 trailer with aws-chunked encoding to every put,
            # which many S3-compatible stores refuse.
            request_checksum_calculation="when_required",
            s3=s3_options,
        )
        # A private session: boto3's default session is not thread-safe.
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=self._endpoint_url, config=config)

    def _endpoint_host(self) -> str:
        """``host[:port]`` of the endpoint for messages, without any credentials."""
        endpoint = self._endpoint_url
        if endpoint is None and self._client is not None:
            endpoint = getattr(getattr(self._client, "meta", None), "endpoint_url", None)
        if not isinstance(endpoint, str):
            return "AWS S3"
        parts = urllib.parse.urlsplit(endpoint)
        host = parts.hostname or "?"
        if ":" in host:
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:
            port = None
        return f"{host}:{port}" if port else host

    def _unavailable(self, exc: Exception, action: str, name: str) -> StorageUnavailable:
        """Translate a botocore failure into StorageUnavailable, once, with a safe reason.

        Only the error code and HTTP status travel: botocore's own messages
        can hold request URLs, and a presigned URL carries a signature.
        """
        extra: dict[str, Any] = {}
        if isinstance(exc, ClientError):
            code, status = _code(exc), _status(exc)
            extra = {"s3_error": code, "http_status": status}
            if code == "NoSuchBucket":
                reason = f"the S3 bucket {self._bucket} does not exist"
            elif code in _BAD_CREDENTIALS:
                reason = f"S3 rejected the credentials ({code})"
            elif code == "AccessDenied" or status == 403:
                reason = f"access denied by S3 ({code})"
            elif code in _DAMAGED:
                reason = f"S3 refused data damaged in transit ({code})"
            elif code in _BUSY or status >= 500:
                reason = f"S3 is unavailable, try again later ({status} {code})"
            else:
                reason = f"S3 refused the request ({status} {code})"
        elif isinstance(exc, NoCredentialsError | PartialCredentialsError | ProfileNotFound):
            reason = "no usable AWS credentials (see the standard AWS credential chain)"
        elif isinstance(exc, SSLError):
            reason = f"TLS failed with the S3 endpoint {self._endpoint_host()}"
        elif isinstance(exc, BotoConnectionError | HTTPClientError):
            reason = f"cannot reach the S3 endpoint {self._endpoint_host()}"
        else:
            reason = f"the S3 client failed ({type(exc).__name__})"
        return StorageUnavailable(f"cannot {action} {name}: {reason}", **extra)


def _check_endpoint(url: str) -> None:
    """Refuse an endpoint that is not a plain ``http(s)://host[:port]`` URL."""
    if not isinstance(url, str):
        raise TypeError("endpoint_url must be str")
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # Never echo it: the user part may be a secret key.
        raise InvalidInput("the S3 endpoint URL must not carry credentials")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"invalid S3 endpoint URL {url!r}: expected http(s)://host[:port]")
    if parts.query or parts.fragment:
        raise InvalidInput(f"invalid S3 endpoint URL {url!r}: no query or fragment")


def _code(exc: ClientError) -> str:
    """The S3 error code of ``exc`` if it looks like one, else ``unknown``."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code if _CODE_RE.fullmatch(code) else "unknown"


def _status(exc: ClientError) -> int:
    """The HTTP status of the answer behind ``exc`` (0 if unknown)."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0
