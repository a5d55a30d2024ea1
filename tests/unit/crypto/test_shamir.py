"""Shamir (SLIP-39) splitting of the root key."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shamir_mnemonic import Share

from strongroom.crypto import RootKey, ShareInfo, combine, inspect_share, split
from strongroom.errors import InvalidInput

SECRET = bytes(range(32))


def _mistype(share: str, position: int) -> str:
    """Replace one word with another valid SLIP-39 word."""
    words = share.split()
    words[position] = "academic" if words[position] != "academic" else "acid"
    return " ".join(words)


class TestSplit:
    def test_default_is_three_of_five(self) -> None:
        shares = split(SECRET)
        assert len(shares) == 5
        infos = [inspect_share(s) for s in shares]
        assert {i.threshold for i in infos} == {3}
        assert sorted(i.index for i in infos) == [0, 1, 2, 3, 4]
        assert len({i.identifier for i in infos}) == 1

    def test_one_of_one(self) -> None:
        (share,) = split(SECRET, shares=1, threshold=1)
        assert combine([share]) == SECRET
        assert inspect_share(share) == ShareInfo(
            identifier=inspect_share(share).identifier, threshold=1, index=0
        )

    def test_sixteen_of_sixteen(self) -> None:
        shares = split(SECRET, shares=16, threshold=16)
        assert combine(shares) == SECRET
        with pytest.raises(InvalidInput):
            combine(shares[:15])

    @pytest.mark.parametrize(
        ("shares", "threshold"),
        [(5, 0), (17, 17), (3, 4), (17, 3), (2, 1), (0, 0), (-1, 1)],
    )
    def test_bad_parameters(self, shares: int, threshold: int) -> None:
        with pytest.raises(InvalidInput):
            split(SECRET, shares=shares, threshold=threshold)

    @pytest.mark.parametrize("secret", [b"", bytes(15), bytes(17), bytes(34)])
    def test_bad_secret_length(self, secret: bytes) -> None:
        with pytest.raises(InvalidInput):
            split(secret)

    def test_root_key_round_trip(self) -> None:
        root = RootKey.generate()
        shares = split(root.secret_bytes(), shares=3, threshold=2)
        assert RootKey(combine(shares[1:])) == root

    def test_splits_are_randomised(self) -> None:
        assert split(SECRET) != split(SECRET)

    @settings(max_examples=25, deadline=None)
    @given(data=st.data(), threshold=st.integers(1, 6), extra=st.integers(0, 4))
    def test_any_threshold_subset_combines_and_fewer_do_not(
        self, data: st.DataObject, threshold: int, extra: int
    ) -> None:
        count = 1 if threshold == 1 else min(16, threshold + extra)
        secret = data.draw(st.binary(min_size=16, max_size=32).filter(lambda b: len(b) % 2 == 0))
        shares = split(secret, shares=count, threshold=threshold)
        subset = data.draw(st.permutations(shares))[:threshold]
        assert combine(subset) == secret
        if threshold > 1:
            fewer = data.draw(st.permutations(shares))[: threshold - 1]
            with pytest.raises(InvalidInput):
                combine(fewer)


class TestCombine:
    def test_all_subsets_of_two_of_four(self) -> None:
        shares = split(SECRET, shares=4, threshold=2)
        for pair in itertools.combinations(shares, 2):
            assert combine(pair) == SECRET

    def test_more_than_threshold_and_duplicates(self) -> None:
        shares = split(SECRET, shares=5, threshold=3)
        assert combine(shares) == SECRET
        assert combine([shares[0], shares[0].upper(), "  " + shares[1], shares[2]]) == SECRET

    def test_duplicates_do_not_count_twice(self) -> None:
        shares = split(SECRET, shares=5, threshold=3)
        with pytest.raises(InvalidInput, match="3 shares are needed, 2 given"):
            combine([shares[0], shares[0], shares[1]])

    def test_empty(self) -> None:
        with pytest.raises(InvalidInput):
            combine([])

    def test_mixed_splits(self) -> None:
        a = split(SECRET, shares=3, threshold=2)
        b = split(SECRET, shares=3, threshold=2)
        with pytest.raises(InvalidInput):
            combine([a[0], b[1]])

    def test_inconsistent_extra_share(self) -> None:
        shares = split(SECRET, shares=5, threshold=3)
        # A share with a valid checksum, the right identifier, a fresh index
        # but a value off the polynomial.
        original = Share.from_mnemonic(shares[4])
        value = bytes([original.value[0] ^ 1]) + original.value[1:]
        forged = dataclasses.replace(original, value=value).mnemonic()
        inspect_share(forged)
        with pytest.raises(InvalidInput, match="inconsistent"):
            combine([*shares[:3], forged])
        with pytest.raises(InvalidInput):
            combine([*shares[:2], forged])

    def test_mistyped_share_rejected(self) -> None:
        shares = split(SECRET)
        with pytest.raises(InvalidInput):
            combine([shares[0], shares[1], _mistype(shares[2], 7)])


class TestInspectShare:
    def test_each_word_position_mistyped_is_caught(self) -> None:
        share = split(SECRET, shares=2, threshold=2)[0]
        for position in range(len(share.split())):
            with pytest.raises(InvalidInput) as info:
                inspect_share(_mistype(share, position))
            # The message never repeats the share: no two consecutive words of
            # it appear (single common words like "secret" are in the list).
            text = " ".join((str(info.value), repr(info.value), info.value.diagnostics()))
            words = _mistype(share, position).split()
            assert not any(f"{a} {b}" in text for a, b in itertools.pairwise(words))
            assert info.value.__cause__ is None

    def test_unknown_word(self) -> None:
        share = split(SECRET)[0]
        words = share.split()
        words[5] = "zzzzzz"
        with pytest.raises(InvalidInput, match="word list"):
            inspect_share(" ".join(words))

    @pytest.mark.parametrize("text", ["", "academic", "not a share at all"])
    def test_garbage(self, text: str) -> None:
        with pytest.raises(InvalidInput):
            inspect_share(text)

    def test_normalises_case_and_spacing(self) -> None:
        share = split(SECRET)[1]
        assert inspect_share("  " + share.upper().replace(" ", "   ") + "\n").index == 1
