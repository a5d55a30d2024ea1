"""Where backups are stored: a small, object-store-like :class:`Target` protocol.

A target holds named, immutable-by-default objects. The protocol is the
common ground of a directory and an S3 bucket: whole-object ``put``/``get``,
``exists``, ``list`` by prefix and ``delete``, with no partial writes, no
appends and no renames.

Object names are ``/``-separated relative paths whose segments use
``[A-Za-z0-9_-]`` and, after the first character, ``.``; a segment never
starts with a dot, so ``..``, hidden files and the temporary files of
:class:`LocalTarget` can never be named.

Failures: an absent object is :class:`~strongroom.errors.NotFound`, a
``put`` over an existing object without ``overwrite`` is
:class:`~strongroom.errors.Conflict`, and a full disk, a permission problem or
an I/O error is :class:`~strongroom.errors.StorageUnavailable`; a failed
``put`` never leaves a partial object visible.

Example::

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> target = open_target(folder.name)
    >>> target.put("snapshots/a1", b"manifest")
    >>> target.get("snapshots/a1"), target.exists("snapshots/b2")
    (b'manifest', False)
    >>> target.list("snap")
    ['snapshots/a1']
    >>> target.put("snapshots/a1", b"other")
    Traceback (most recent call last):
    ...
    strongroom.errors.Conflict: object snapshots/a1 already exists
    >>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from strongroom.errors import Conflict, InvalidInput, NotFound, StorageUnavailable

__all__ = ["LocalTarget", "Target", "open_target", "validate_name"]

_SEGMENT: Final = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_NAME_RE: Final = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
# A prefix is a name cut anywhere: a run of segments and a trailing partial one.
_PREFIX_RE: Final = re.compile(rf"(?:{_SEGMENT}/)*(?:[A-Za-z0-9_-][A-Za-z0-9._-]*)?")
_MAX_NAME: Final = 1024
_TMP_PREFIX: Final = ".tmp-"
# Errors that mean "the target cannot take this write now", with the reason
# an operator can act on.
_REASONS: Final = {
    errno.ENOSPC: "no space left on the backup target",
    errno.EDQUOT: "disk quota exceeded on the backup target",
    errno.EACCES: "permission denied on the backup target",
    errno.EPERM: "operation not permitted on the backup target",
    errno.EROFS: "the backup target is read-only",
    errno.EIO: "I/O error on the backup target",
}


@runtime_checkable
class Target(Protocol):
    """A flat namespace of whole objects: a directory, a bucket.

    Implementations must make :meth:`put` atomic and durable: once it
    returns the object survives a crash, and a failed or interrupted put
    leaves either the old object or none, never a partial one.
    """

    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        """Store ``data`` as ``name``; raise Conflict if it exists and not ``overwrite``."""
        ...

    def get(self, name: str) -> bytes:
        """Return the bytes of ``name``; raise NotFound if there is no such object."""
        ...

    def exists(self, name: str) -> bool:
        """Return whether an object called ``name`` exists."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Return the names that start with ``prefix`` (a plain string prefix), sorted."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name``; removing an absent object is not an error (as in S3)."""
        ...


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid object name, else raise InvalidInput.

    Valid: relative, ``/``-separated, segments of ``[A-Za-z0-9._-]`` that do
    not start with a dot, at most 1024 characters. This rules out ``..``,
    absolute paths, empty segments and backslashes on every platform.
    """
    if not isinstance(name, str):
        raise TypeError("object names are str")
    if len(name) > _MAX_NAME or not _NAME_RE.fullmatch(name):
        raise InvalidInput(f"invalid object name {name!r}")
    return name


class LocalTarget:
    """A :class:`Target` in a local directory (or a mounted file system).

    Each object is one file under ``root``; ``a/b`` is ``root/a/b``. A put
    writes a temporary file beside the final one, fsyncs it, links or
    renames it into place and fsyncs the directory, so a crash at any point
    leaves the old object or the new one, whole (POSIX ``rename(2)``
    atomicity). Temporary files left by a crash start with a dot and are
    never listed or named. Files are created ``0600``.
    """

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root).absolute()

    @property
    def root(self) -> Path:
        """The directory holding the objects."""
        return self._root

    def __repr__(self) -> str:
        return f"LocalTarget({str(self._root)!r})"

    def put(self, name: str, data: bytes, *, overwrite: bool = False) -> None:
        """Store ``data`` as ``name`` atomically and durably (see the class docstring)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("data must be bytes")
        path = self._path(name)
        tmp: Path | None = None
        try:
            self._make_dirs(path.parent)
            tmp = path.parent / f"{_TMP_PREFIX}{secrets.token_hex(8)}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                _write_all(fd, memoryview(data))
                # The data must be on disk before the name points at it, or a
                # crash could leave a complete-looking name over a hole.
                os.fsync(fd)
            finally:
                os.close(fd)
            if overwrite:
                os.replace(tmp, path)
            else:
                _link_no_replace(tmp, path, name)
            tmp = None
            _fsync_dir(path.parent)
        except (IsADirectoryError, NotADirectoryError) as exc:
            if self._root.exists() and not self._root.is_dir():
                raise StorageUnavailable(
                    f"the backup target {self._root} is a file, not a directory"
                ) from exc
            raise Conflict(f"object {name} collides with a folder of that name") from exc
        except OSError as exc:
            raise _unavailable(exc, "write", name) from exc
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def get(self, name: str) -> bytes:
        """Return the bytes of ``name``; NotFound if absent."""
        path = self._path(name)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"object {name} not found") from None
        except OSError as exc:
            raise _unavailable(exc, "read", name) from exc

    def exists(self, name: str) -> bool:
        """Return whether ``name`` is a stored object."""
        path = self._path(name)
        try:
            return path.is_file()
        except OSError as exc:
            raise _unavailable(exc, "read", name) from exc

    def list(self, prefix: str) -> list[str]:
        """Return the stored names that start with ``prefix``, sorted."""
        if not isinstance(prefix, str):
            raise TypeError("prefix must be str")
        if len(prefix) > _MAX_NAME or not _PREFIX_RE.fullmatch(prefix):
            raise InvalidInput(f"invalid object name prefix {prefix!r}")
        # Walk only the deepest folder the prefix names in full.
        folder, _, _ = prefix.rpartition("/")
        start = self._root / folder if folder else self._root
        try:
            names = [n for n in self._walk(start, folder) if n.startswith(prefix)]
        except OSError as exc:
            raise _unavailable(exc, "list", prefix or "/") from exc
        names.sort()
        return names

    def delete(self, name: str) -> None:
        """Remove ``name`` durably; an absent object is not an error."""
        path = self._path(name)
        try:
            path.unlink(missing_ok=True)
            _fsync_dir(path.parent)
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError as exc:
            raise Conflict(f"{name} is a folder, not an object") from exc
        except OSError as exc:
            raise _unavailable(exc, "delete", name) from exc

    def _path(self, name: str) -> Path:
        return self._root.joinpath(*validate_name(name).split("/"))

    def _walk(self, folder: Path, relative: str) -> Iterator[str]:
        """Yield the object names under ``folder`` (named ``relative``), skipping dot files."""
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), name)
            elif entry.is_file(follow_symlinks=False) and _NAME_RE.fullmatch(name):
                yield name

    def _make_dirs(self, folder: Path) -> None:
        """Create ``folder`` and missing parents, fsyncing each new entry's parent."""
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            if current.parent == current:
                break
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                continue
            # A new directory entry is durable only once its parent is synced.
            _fsync_dir(path.parent)


def open_target(
    url: str, *, s3_endpoint: str | None = None, s3_region: str = "us-east-1"
) -> Target:
    """Return the target at ``url``: a local path, a ``file://`` URL or ``s3://bucket/prefix``.

    For ``s3://`` URLs, ``s3_endpoint`` is the endpoint of an S3-compatible
    store (``None``: AWS) and ``s3_region`` the region requests are signed
    for; credentials come from the standard AWS chain (see
    :class:`~strongroom.backup.S3Target`). Any other scheme raises
    InvalidInput "unsupported target".
    """
    if not isinstance(url, str):
        raise TypeError("url must be str")
    if not url:
        raise InvalidInput("empty backup target")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise InvalidInput("unsupported target: a file URL must be file:///absolute/path")
        return LocalTarget(Path(urllib.request.url2pathname(parts.path)))
    if parts.scheme == "s3":
        if "@" in parts.netloc:
            # Never echo the URL: the user part may be a secret key.
            raise InvalidInput("unsupported target: an s3:// URL must not carry credentials")
        if not parts.netloc or parts.query or parts.fragment:
            raise InvalidInput("unsupported target: an S3 URL must be s3://bucket/prefix")
        # Imported here so that local targets never pay for loading boto3.
        from strongroom.backup.s3_target import S3Target

        return S3Target(parts.netloc, parts.path, endpoint_url=s3_endpoint, region=s3_region)
    if "://" in url:
        # sftp://, https://, ...: later targets implement the same protocol.
        raise InvalidInput(f"unsupported target {parts.scheme}://")
    return LocalTarget(Path(url))


def _write_all(fd: int, data: memoryview) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than asked)."""
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _link_no_replace(tmp: Path, path: Path, name: str) -> None:
    """Move ``tmp`` to ``path`` unless ``path`` exists (atomically where links work)."""
    try:
        # link(2) fails with EEXIST instead of replacing, so two writers
        # cannot silently overwrite each other; the tmp name is then dropped.
        os.link(tmp, path)
    except FileExistsError:
        raise Conflict(f"object {name} already exists") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
        # File systems without hard links (some FUSE and SMB mounts): check
        # then rename. A concurrent writer could race this; one writer per
        # repository is the supported setup.
        if path.exists():
            raise Conflict(f"object {name} already exists") from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def _fsync_dir(folder: Path) -> None:
    """fsync a directory so the entries created or removed in it are durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unavailable(exc: OSError, action: str, name: str) -> StorageUnavailable:
    """Translate an OSError from the file system into StorageUnavailable, once."""
    reason = _REASONS.get(exc.errno or 0, "the backup target failed")
    return StorageUnavailable(f"cannot {action} {name}: {reason}", errno=exc.errno)
