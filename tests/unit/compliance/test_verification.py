"""The stored ledger verified in place: each kind of tampering is found and located."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from strongroom.compliance.verification import verify_stored_log
from strongroom.ledger.merkle import leaf_hash

from .conftest import Env

Make = Callable[..., Env]


def _verify(env: Env) -> tuple[bool, tuple[str, ...]]:
    with env.vault.db.snapshot_read() as conn:
        led = verify_stored_log(conn)
    return led.verified, led.problems


class TestVerifyStoredLog:
    def test_an_untouched_log_verifies(self, compliant: Make) -> None:
        env = compliant()
        with env.vault.db.snapshot_read() as conn:
            led = verify_stored_log(conn)
        assert led.verified and led.problems == ()
        assert led.checkpoint is not None and led.verified_size == led.checkpoint.size
        assert led.rehashed == led.size
        assert led.verifier_key is not None and led.verifier_key.startswith(led.origin or "?")

    def test_an_entry_rewritten_with_its_hash_breaks_the_root(self, compliant: Make) -> None:
        env = compliant()
        with env.vault.db.engine.begin() as conn:
            (raw,) = conn.execute(text("SELECT entry FROM audit_entries WHERE seq = 0")).one()
            forged = bytes(raw).replace(b'"principal":"system"', b'"principal":"nobody"')
            assert forged != bytes(raw)
            conn.execute(
                text("UPDATE audit_entries SET entry = :e, leaf_hash = :h WHERE seq = 0"),
                {"e": forged, "h": leaf_hash(forged)},
            )
        ok, problems = _verify(env)
        assert not ok
        assert any("root other than checkpoint" in p for p in problems)

    def test_a_deleted_entry_is_named(self, compliant: Make) -> None:
        env = compliant()
        env.sql("DELETE FROM audit_entries WHERE seq = 1")
        ok, problems = _verify(env)
        assert not ok and "entry 1 is missing (deleted)" in problems

    def test_truncation_is_found(self, compliant: Make) -> None:
        env = compliant()
        size = env.vault.audit.latest_checkpoint().size
        env.sql("DELETE FROM audit_entries WHERE seq = :s", s=size - 1)
        ok, problems = _verify(env)
        assert not ok and any("truncated" in p for p in problems)

    def test_a_forged_checkpoint_signature_is_found(self, compliant: Make) -> None:
        env = compliant()
        size = env.vault.audit.latest_checkpoint().size
        with env.vault.db.engine.begin() as conn:
            (note,) = conn.execute(
                text("SELECT note FROM audit_checkpoints WHERE size = :s"), {"s": size}
            ).one()
            lines = bytes(note).split(b"\n")
            lines[1] = str(size + 1).encode()
            conn.execute(
                text("UPDATE audit_checkpoints SET note = :n WHERE size = :s"),
                {"n": b"\n".join(lines), "s": size},
            )
        ok, problems = _verify(env)
        assert not ok
        assert problems[0].startswith(f"checkpoint {size}:")
