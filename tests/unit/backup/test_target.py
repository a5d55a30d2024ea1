"""LocalTarget: atomic durable puts, name validation, listing, and error translation."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from strongroom.backup import LocalTarget, Target, open_target, validate_name
from strongroom.errors import Conflict, InvalidInput, NotFound, StorageUnavailable


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


class TestLocalTarget:
    def test_is_a_target(self, tmp_path: Path) -> None:
        assert isinstance(LocalTarget(tmp_path), Target)

    def test_put_get_exists_delete(self, tmp_path: Path) -> None:
        t = LocalTarget(tmp_path / "repo")
        t.put("chunks/ab/abcd", b"data")
        assert t.get("chunks/ab/abcd") == b"data"
        assert t.exists("chunks/ab/abcd")
        assert not t.exists("chunks/ab/other")
        t.delete("chunks/ab/abcd")
        assert not t.exists("chunks/ab/abcd")
        t.delete("chunks/ab/abcd")  # absent: not an error, as in S3

    def test_get_absent_is_not_found(self, tmp_path: Path) -> None:
        with pytest.raises(NotFound):
            LocalTarget(tmp_path).get("config")
        with pytest.raises(NotFound):
            LocalTarget(tmp_path / "missing").get("a/b")

    def test_refuses_to_overwrite_unless_asked(self, tmp_path: Path) -> None:
        t = LocalTarget(tmp_path)
        t.put("config", b"one")
        with pytest.raises(Conflict):
            t.put("config", b"two")
        assert t.get("config") == b"one"
        t.put("config", b"two", overwrite=True)
        assert t.get("config") == b"two"
        assert _all_files(tmp_path) == ["config"]

    def test_accepts_buffers(self, tmp_path: Path) -> None:
        t = LocalTarget(tmp_path)
        t.put("a", bytearray(b"xy"))  # type: ignore[arg-type]
        t.put("b", memoryview(b"zw"))  # type: ignore[arg-type]
        assert (t.get("a"), t.get("b")) == (b"xy", b"zw")
        with pytest.raises(TypeError):
            t.put("c", "text")  # type: ignore[arg-type]

    def test_files_are_private(self, tmp_path: Path) -> None:
        LocalTarget(tmp_path).put("keys/k1", b"wrapped")
        assert stat.S_IMODE((tmp_path / "keys" / "k1").stat().st_mode) == 0o600

    def test_list_by_prefix_sorted(self, tmp_path: Path) -> None:
        t = LocalTarget(tmp_path)
        for name in ["snapshots/b", "snapshots/a", "chunks/00/00ff", "chunks/01/01aa", "config"]:
            t.put(name, b"x")
        assert t.list("snapshots/") == ["snapshots/a", "snapshots/b"]
        assert t.list("chunks/") == ["chunks/00/00ff", "chunks/01/01aa"]
        assert t.list("chunks/01") == ["chunks/01/01aa"]
        assert t.list("c") == ["chunks/00/00ff", "chunks/01/01aa", "config"]
        assert t.list("") == sorted(
            ["snapshots/b", "snapshots/a", "chunks/00/00ff", "chunks/01/01aa", "config"]
        )
        assert t.list("nothing/") == []
        assert LocalTarget(tmp_path / "absent").list("") == []

    def test_failed_put_leaves_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        t = LocalTarget(tmp_path)
        t.put("chunks/aa/aa01", b"old")

        def full(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", full)
        with pytest.raises(StorageUnavailable, match="no space left") as info:
            t.put("chunks/aa/aa02", b"new")
        assert info.value.extra["errno"] == errno.ENOSPC
        with pytest.raises(StorageUnavailable):
            t.put("chunks/aa/aa01", b"replacement", overwrite=True)
        monkeypatch.undo()
        # No partial object, no temporary file, the old object untouched.
        assert _all_files(tmp_path) == ["chunks/aa/aa01"]
        assert t.get("chunks/aa/aa01") == b"old"
        assert t.list("") == ["chunks/aa/aa01"]

    def test_failed_rename_leaves_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        t = LocalTarget(tmp_path)

        def denied(src: object, dst: object) -> None:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(os, "link", denied)
        monkeypatch.setattr(os, "replace", denied)
        with pytest.raises(StorageUnavailable, match="permission denied"):
            t.put("snapshots/x", b"manifest")
        monkeypatch.undo()
        assert _all_files(tmp_path) == []

    def test_read_only_root_is_storage_unavailable(self, tmp_path: Path) -> None:
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions")
        tmp_path.chmod(0o500)
        try:
            with pytest.raises(StorageUnavailable, match="permission denied"):
                LocalTarget(tmp_path).put("config", b"x")
        finally:
            tmp_path.chmod(0o700)

    def test_without_hard_links_falls_back_to_rename(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        t = LocalTarget(tmp_path)

        def no_links(src: object, dst: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
        t.put("a", b"1")
        with pytest.raises(Conflict):
            t.put("a", b"2")
        assert t.get("a") == b"1"
        assert _all_files(tmp_path) == ["a"]

    def test_leftover_temp_files_are_invisible(self, tmp_path: Path) -> None:
        t = LocalTarget(tmp_path)
        t.put("chunks/ab/ab01", b"x")
        # What a crash between create and rename leaves behind.
        (tmp_path / "chunks" / "ab" / ".tmp-0123456789abcdef").write_bytes(b"partial")
        assert t.list("chunks/") == ["chunks/ab/ab01"]
        assert t.list("") == ["chunks/ab/ab01"]
        with pytest.raises(InvalidInput):
            t.get("chunks/ab/.tmp-0123456789abcdef")

    def test_object_and_folder_collide(self, tmp_path: Path) -> None:
        t = LocalTarget(tmp_path)
        t.put("a/b", b"x")
        with pytest.raises(Conflict):
            t.put("a", b"y")
        with pytest.raises(Conflict):
            t.put("a/b/c", b"z")
        assert not t.exists("a")
        with pytest.raises(NotFound):
            t.get("a")

    def test_repr_names_the_root(self, tmp_path: Path) -> None:
        assert str(tmp_path) in repr(LocalTarget(tmp_path))
        assert LocalTarget(tmp_path).root == tmp_path


class TestNames:
    @pytest.mark.parametrize(
        "name",
        [
            "",
            "..",
            "../x",
            "a/../b",
            "a/./b",
            "/etc/passwd",
            "a//b",
            "a/",
            ".hidden",
            "a/.tmp-1",
            "a\\b",
            "a\x00b",
            "a b",
            "é",
            "x" * 1025,
        ],
    )
    def test_invalid_names_are_refused_everywhere(self, tmp_path: Path, name: str) -> None:
        t = LocalTarget(tmp_path / "repo")
        with pytest.raises(InvalidInput):
            validate_name(name)
        with pytest.raises(InvalidInput):
            t.put(name, b"x")
        with pytest.raises(InvalidInput):
            t.get(name)
        with pytest.raises(InvalidInput):
            t.exists(name)
        with pytest.raises(InvalidInput):
            t.delete(name)
        assert not (tmp_path / "etc").exists()
        assert _all_files(tmp_path) == []

    @pytest.mark.parametrize("name", ["config", "keys/0a1b", "chunks/ab/ab-c_d.e", "a/b/c/d"])
    def test_valid_names(self, name: str) -> None:
        assert validate_name(name) == name

    @pytest.mark.parametrize("prefix", ["/", "../", "a//", "./", "\\"])
    def test_invalid_prefixes(self, tmp_path: Path, prefix: str) -> None:
        with pytest.raises(InvalidInput):
            LocalTarget(tmp_path).list(prefix)

    def test_names_must_be_str(self) -> None:
        with pytest.raises(TypeError):
            validate_name(b"config")


class TestOpenTarget:
    def test_plain_path(self, tmp_path: Path) -> None:
        t = open_target(str(tmp_path))
        assert isinstance(t, LocalTarget)
        assert t.root == tmp_path

    @pytest.mark.parametrize("form", ["file://{}", "file://localhost{}"])
    def test_file_url(self, tmp_path: Path, form: str) -> None:
        t = open_target(form.format(tmp_path))
        assert isinstance(t, LocalTarget)
        assert t.root == tmp_path

    def test_file_url_is_percent_decoded(self, tmp_path: Path) -> None:
        t = open_target(f"file://{tmp_path}/my%20backups")
        assert isinstance(t, LocalTarget)
        assert t.root == tmp_path / "my backups"

    @pytest.mark.parametrize(
        "url",
        ["https://example.com/x", "sftp://host/x", "file://host/x", ""],
    )
    def test_unsupported(self, url: str) -> None:
        with pytest.raises(InvalidInput):
            open_target(url)
