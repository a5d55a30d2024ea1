"""Init, unseal (Shamir and passphrase), seal, and what a sealed vault refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.config import Settings
from strongroom.errors import Conflict, InvalidInput, NotInitialized, PermissionDenied, Sealed
from strongroom.types import SealState
from strongroom.vault import Vault


@pytest.fixture
def fresh(tmp_path: Path) -> Vault:
    v = Vault(Settings(data_dir=tmp_path))
    v.open()
    yield v  # type: ignore[misc]
    v.close()


class TestShamir:
    def test_init_then_unseal_share_by_share(self, fresh: Vault) -> None:
        assert fresh.state() is SealState.UNINITIALIZED
        with pytest.raises(NotInitialized):
            fresh.tokens.authenticate("strongroom_x")
        result = fresh.initialize(shares=5, threshold=3)
        assert len(result.shares) == 5 and result.root_token.startswith("strongroom_")
        assert fresh.state() is SealState.SEALED
        with pytest.raises(Sealed):
            fresh.tokens.authenticate(result.root_token)
        assert fresh.submit_share(result.shares[4])["progress"] == 1
        assert fresh.submit_share(result.shares[1])["progress"] == 2
        status = fresh.submit_share(result.shares[2])
        assert status["sealed"] is False
        root = fresh.tokens.authenticate(result.root_token)
        fresh.kv.put(root, "secret", "a", {"k": "v"})
        fresh.seal_now(root)
        assert fresh.state() is SealState.SEALED
        with pytest.raises(Sealed):
            fresh.kv.get(root, "secret", "a")

    def test_reinit_conflicts(self, fresh: Vault) -> None:
        fresh.initialize(shares=1, threshold=1)
        with pytest.raises(Conflict):
            fresh.initialize(shares=1, threshold=1)

    def test_shares_of_another_vault_are_refused(self, fresh: Vault, tmp_path: Path) -> None:
        mine = fresh.initialize(shares=3, threshold=2)
        other = Vault(Settings(data_dir=tmp_path / "other"))
        other.open()
        try:
            theirs = other.initialize(shares=3, threshold=2)
        finally:
            other.close()
        fresh.submit_share(mine.shares[0])
        with pytest.raises(InvalidInput):
            fresh.submit_share(theirs.shares[1])  # another share set
        fresh.reset_unseal()
        fresh.submit_share(theirs.shares[0])
        with pytest.raises(PermissionDenied):
            fresh.submit_share(theirs.shares[1])  # reconstructs the wrong root key
        assert fresh.seal.sealed
        fresh.submit_share(mine.shares[1])
        assert fresh.submit_share(mine.shares[2])["sealed"] is False

    def test_mistyped_share_is_refused_and_progress_kept(self, fresh: Vault) -> None:
        r = fresh.initialize(shares=3, threshold=2)
        fresh.submit_share(r.shares[0])
        words = r.shares[1].split()
        words[3] = "academic" if words[3] != "academic" else "acid"
        with pytest.raises(InvalidInput):
            fresh.submit_share(" ".join(words))
        assert fresh.status()["progress"] == 1
        assert fresh.submit_share(r.shares[1])["sealed"] is False

    def test_duplicate_share_refused(self, fresh: Vault) -> None:
        r = fresh.initialize(shares=3, threshold=2)
        fresh.submit_share(r.shares[0])
        with pytest.raises(InvalidInput):
            fresh.submit_share(r.shares[0])

    def test_unseal_survives_restart(self, tmp_path: Path) -> None:
        v = Vault(Settings(data_dir=tmp_path))
        v.open()
        r = v.initialize(shares=3, threshold=2)
        v.submit_share(r.shares[0])
        v.submit_share(r.shares[1])
        root = v.tokens.authenticate(r.root_token)
        v.kv.put(root, "secret", "a", {"k": "v"})
        v.close()
        v = Vault(Settings(data_dir=tmp_path))
        v.open()
        try:
            assert v.state() is SealState.SEALED
            v.submit_share(r.shares[2])
            v.submit_share(r.shares[0])
            root = v.tokens.authenticate(r.root_token)
            assert v.kv.get(root, "secret", "a").data == {"k": "v"}
        finally:
            v.close()

    def test_no_root_key_in_clear_on_disk(self, fresh: Vault) -> None:
        r = fresh.initialize(shares=1, threshold=1)
        from strongroom.crypto import combine

        secret = combine([r.shares[0]])
        fresh.submit_share(r.shares[0])
        root = fresh.tokens.authenticate(r.root_token)
        fresh.kv.put(root, "secret", "a", {"k": "v"})
        fresh.db.close()
        blob = b"".join(p.read_bytes() for p in fresh.settings.data_dir.rglob("*") if p.is_file())
        assert secret not in blob and secret.hex().encode() not in blob


class TestPassphrase:
    def test_passphrase_unseal(self, fresh: Vault) -> None:
        r = fresh.initialize(passphrase_text="correct horse battery staple")
        assert r.shares == []
        with pytest.raises(PermissionDenied):
            fresh.unseal_passphrase("wrong passphrase entirely")
        # While sealed, a share is the wrong kind of unseal material.
        with pytest.raises(InvalidInput):
            fresh.submit_share("anything")
        assert fresh.unseal_passphrase("correct horse battery staple")["sealed"] is False
        # Once unsealed, unseal calls are idempotent and report status (as Vault does).
        assert fresh.submit_share("anything")["sealed"] is False

    def test_short_passphrase_refused(self, fresh: Vault) -> None:
        with pytest.raises(InvalidInput):
            fresh.initialize(passphrase_text="short")


class TestDevMode:
    def test_dev_key_file_is_private(self, tmp_path: Path) -> None:
        v = Vault(Settings(data_dir=tmp_path, dev=True))
        v.open()
        try:
            mode = (tmp_path / "dev-root.key").stat().st_mode & 0o777
            assert mode == 0o600
            assert not v.seal.sealed
        finally:
            v.close()

    def test_dev_token_refused_outside_dev(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="dev"):
            Settings(data_dir=tmp_path, dev_root_token="strongroom_x")  # type: ignore[arg-type]
