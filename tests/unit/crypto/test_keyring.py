"""Keyring versions and retirement; hi-lo encryption counting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.crypto import (
    DEFAULT_ROTATE_AFTER,
    KEK,
    NIST_GCM_RANDOM_NONCE_LIMIT,
    DataKey,
    EncryptionCounter,
    Keyring,
    RootKey,
    WrappingKey,
    open,
    seal,
)
from strongroom.errors import Conflict, DecryptionFailed, KeyUnavailable

from .conftest import ContextFactory, KeyringFactory


class TestKeyring:
    def test_unwrap_all(self) -> None:
        root = RootKey.generate()
        keks = {v: KEK.generate(version=v) for v in (1, 2, 3, 4)}
        rows = [
            (1, root.wrap_kek(keks[1]), True),
            (2, root.wrap_kek(keks[2]), False),
            (4, root.wrap_kek(keks[4]), True),
            (3, root.wrap_kek(keks[3]), False),
        ]
        ring = Keyring.unwrap_all(root, rows)
        assert ring.current == 3
        assert ring.current_kek == keks[3]
        assert ring.versions == (2, 3)
        assert ring.retired == {1, 4}
        assert ring.get(2) == keks[2]
        for v in (1, 4, 5):
            with pytest.raises(KeyUnavailable):
                ring.get(v)

    def test_unwrap_all_wrong_root(self) -> None:
        root = RootKey.generate()
        rows = [(1, root.wrap_kek(KEK.generate(version=1)), False)]
        with pytest.raises(DecryptionFailed):
            Keyring.unwrap_all(RootKey.generate(), rows)

    def test_unwrap_all_blob_under_other_version(self) -> None:
        root = RootKey.generate()
        rows = [(2, root.wrap_kek(KEK.generate(version=1)), False)]
        with pytest.raises(DecryptionFailed):
            Keyring.unwrap_all(root, rows)

    def test_unwrap_all_duplicate_version(self) -> None:
        root = RootKey.generate()
        blob = root.wrap_kek(KEK.generate(version=1))
        with pytest.raises(ValueError):
            Keyring.unwrap_all(root, [(1, blob, False), (1, blob, False)])

    def test_empty(self) -> None:
        ring = Keyring()
        with pytest.raises(KeyUnavailable):
            _ = ring.current
        with pytest.raises(KeyUnavailable):
            ring.wrap(DataKey.generate())
        assert Keyring.unwrap_all(RootKey.generate(), []).versions == ()

    def test_add_and_current(self, make_keyring: KeyringFactory) -> None:
        ring = make_keyring(2)
        assert ring.current == 2
        ring.add(KEK.generate(version=5), current=False)
        assert ring.current == 2
        assert ring.versions == (1, 2, 5)
        ring.add(KEK.generate(version=3))
        assert ring.current == 3
        with pytest.raises(Conflict):
            ring.add(KEK.generate(version=2))

    def test_retire(self, make_keyring: KeyringFactory) -> None:
        ring = make_keyring(3)
        with pytest.raises(Conflict):
            ring.retire(3)
        with pytest.raises(KeyUnavailable):
            ring.retire(9)
        ring.retire(1)
        ring.retire(1)  # idempotent
        assert ring.versions == (2, 3)
        assert ring.retired == {1}
        with pytest.raises(KeyUnavailable):
            ring.get(1)
        with pytest.raises(Conflict):
            ring.add(KEK.generate(version=1))

    def test_is_a_wrapping_key_across_rotation(
        self, make_keyring: KeyringFactory, make_context: ContextFactory
    ) -> None:
        ring = make_keyring(1)
        assert isinstance(ring, WrappingKey)
        assert ring.key_class == "kek"
        ctx = make_context()
        old = seal(b"before", ctx, ring)
        ring.add(KEK.generate(version=2))
        new = seal(b"after", ctx, ring)
        assert ring.kek_for(new.wrapped_dek).version == 2
        assert open(old, ctx, ring) == b"before"
        assert open(new, ctx, ring) == b"after"
        ring.retire(1)
        with pytest.raises(KeyUnavailable):
            open(old, ctx, ring)

    def test_repr_has_no_key_material(self, make_keyring: KeyringFactory) -> None:
        ring = make_keyring(2)
        text = repr(ring)
        assert "current=2" in text
        assert ring.get(1).secret_bytes().hex() not in text


class TestEncryptionCounter:
    def test_hi_lo_reservation(self) -> None:
        c = EncryptionCounter(block_size=100)
        assert c.plan(1, 1) == 100
        with pytest.raises(RuntimeError):
            c.consume(1, 1)  # not yet durable
        c.confirm(1, 100)
        c.consume(1, 1)
        assert c.plan(1, 99) is None
        c.consume(1, 99)
        assert c.used(1) == 100
        assert c.reserved(1) == 100
        assert c.plan(1, 1) == 200
        assert c.plan(1, 250) == 449

    def test_versions_are_independent(self) -> None:
        c = EncryptionCounter(block_size=10)
        c.confirm(1, c.plan(1, 5) or 0)
        c.consume(1, 5)
        assert c.used(2) == 0
        assert c.plan(2, 1) == 10

    def test_crash_only_over_counts(self) -> None:
        c = EncryptionCounter(block_size=1000)
        durable = c.plan(7, 3)
        assert durable is not None
        c.confirm(7, durable)
        c.consume(7, 3)
        # Crash: memory is lost, the durable mark survives.
        after = EncryptionCounter(block_size=1000)
        after.restore(7, durable)
        assert after.used(7) >= 3
        assert after.plan(7, 1) == durable + 1000

    def test_rotation_threshold(self) -> None:
        c = EncryptionCounter(threshold=10, block_size=4)
        for _ in range(10):
            high = c.plan(1, 1)
            if high is not None:
                c.confirm(1, high)
            assert not c.must_rotate(1)
            c.consume(1, 1)
        assert c.must_rotate(1)

    def test_hard_limit(self) -> None:
        c = EncryptionCounter(threshold=NIST_GCM_RANDOM_NONCE_LIMIT)
        c.restore(1, NIST_GCM_RANDOM_NONCE_LIMIT - 1)
        assert c.plan(1, 1) == NIST_GCM_RANDOM_NONCE_LIMIT
        with pytest.raises(KeyUnavailable):
            c.plan(1, 2)

    def test_defaults_below_nist_bound(self) -> None:
        assert DEFAULT_ROTATE_AFTER < NIST_GCM_RANDOM_NONCE_LIMIT == 2**32

    @pytest.mark.parametrize(
        "kwargs", [{"threshold": 0}, {"threshold": 2**32 + 1}, {"block_size": 0}]
    )
    def test_validation(self, kwargs: dict[str, int]) -> None:
        with pytest.raises(ValueError):
            EncryptionCounter(**kwargs)

    @settings(max_examples=100, deadline=None)
    @given(
        batches=st.lists(st.integers(0, 500), max_size=40),
        block=st.integers(1, 300),
        crash_at=st.integers(0, 40),
    )
    def test_durable_mark_never_below_true_count(
        self, batches: list[int], block: int, crash_at: int
    ) -> None:
        durable = 0
        true_count = 0
        c = EncryptionCounter(block_size=block)
        for i, n in enumerate(batches):
            if i == crash_at:
                c = EncryptionCounter(block_size=block)
                c.restore(1, durable)
                assert c.used(1) >= true_count
            high = c.plan(1, n)
            if high is not None:
                assert high >= c.used(1) + n
                durable = high  # the caller's durable write
                c.confirm(1, high)
            c.consume(1, n)
            true_count += n
            assert durable >= true_count
