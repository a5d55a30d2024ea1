"""Diagnosis of a bundle that failed verification: which entry is wrong, and how.

Only run when the fast check in :func:`strongroom.ledger.bundle.verify_bundle`
fails: it parses every entry's ``seq``, rebuilds the tree from the stored
hashes in sequence order and searches for the smallest explanation (an entry
modified, deleted, inserted or moved) that makes every trusted root match.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

from strongroom.errors import IntegrityViolation
from strongroom.ledger.entry import parse_entry
from strongroom.ledger.findings import Anchor as _Anchor
from strongroom.ledger.findings import Entry as _Entry
from strongroom.ledger.findings import Finding, FindingKind
from strongroom.ledger.findings import extend_peaks as _extend
from strongroom.ledger.merkle import Frontier

__all__ = ["diagnose"]

_MAX_PER_KIND: Final = 100
_MAX_CHOICES: Final = 16
_MAX_TRIES: Final = 64

_sha256 = hashlib.sha256
_json_decode = json.JSONDecoder().decode


@dataclasses.dataclass(frozen=True, slots=True)
class _Option:
    """A way to fill a leaf slot: the entry at ``position`` with ``leaf`` as its hash.

    ``altered`` marks the recomputed hash of an entry whose stored hash
    differs: choosing it means the stored hash, not the entry, was changed.
    """

    position: int
    leaf: bytes
    altered: bool


class _Diagnosis:
    """Rebuild the log by ``seq`` from the stored hashes and explain each difference.

    The stored hash of each line is what the server logged when it appended
    the entry, so rebuilding the tree from the stored hashes, in ``seq``
    order, gives back the signed tree even when entries were edited, moved,
    duplicated or removed; comparing that tree with each checkpoint then
    confirms or rules out each explanation.
    """

    def __init__(self, entries: Sequence[_Entry], anchors: list[_Anchor]) -> None:
        self.entries = entries
        self.anchors = sorted(anchors, key=lambda a: a.size)
        self.n = len(entries)
        self.stored = [stored for stored, _ in entries]
        self.computed = [_sha256(b"\x00" + raw).digest() for _, raw in entries]
        self.findings: list[Finding] = []
        self.counts: dict[str, int] = {}
        self.notes: list[str] = []
        self.matched: list[_Anchor] = []
        self.problems: dict[int, str] = {}
        self.suspect: set[int] = set()
        # Leaf index -> claimant positions, most likely first; then the pick.
        self.slots: dict[int, list[int]] = {}
        self.chosen: dict[int, _Option] = {}

    def run(self) -> None:
        """Fill ``findings``, ``notes`` and ``matched``."""
        self._assign_slots()
        filled = max(self.slots, default=-1) + 1
        gaps = [v for v in range(filled) if v not in self.slots]
        horizon = gaps[0] if gaps else filled
        for v in gaps:
            self._add(FindingKind.DELETED, v, f"entry {v} was deleted (no entry has seq {v})")
        status = self._rebuild(horizon)
        self._judge(status, horizon, filled)
        self._report_choices(status)
        self._report_order()
        for kind, count in self.counts.items():
            if count > _MAX_PER_KIND:
                more = count - _MAX_PER_KIND
                self.findings.append(Finding(kind, None, f"{more} more {kind} findings not listed"))

    # Slots --------------------------------------------------------------------------------------

    def _assign_slots(self) -> None:
        """Map each leaf index to the positions claiming it; report entries that fit nowhere."""
        claims: list[int | None] = []
        for p, (_, raw) in enumerate(self.entries):
            seq, problem = _seq_of(raw)
            claims.append(seq)
            if problem:
                self.problems[p] = problem
        stored, computed = self.stored, self.computed
        self.suspect = {p for p in range(self.n) if stored[p] != computed[p]}
        self.suspect.update(self.problems)
        bound = self._bound(claims)
        slots = self.slots
        for p, seq in enumerate(claims):
            if seq is None or p in self.suspect:
                continue
            if 0 <= seq < bound:
                slots.setdefault(seq, []).append(p)
            else:
                self._add(
                    FindingKind.INSERTED,
                    p,
                    f"the entry at position {p} (line {p + 2}) was inserted: its seq {seq} is "
                    f"outside the log (0..{bound - 1})",
                )
        # An edited entry keeps its claimed seq if nothing else holds it, else
        # it is taken to be in place (its seq may be what was edited).
        for p in sorted(self.suspect):
            seq = claims[p]
            if seq is not None and 0 <= seq < bound and seq not in slots:
                slots[seq] = [p]
            elif p < bound:
                slots.setdefault(p, []).append(p)
            else:
                self._report_entry(p, p, altered=False, verified=False)
        for v, ps in slots.items():
            if len(ps) > 1:
                ps.sort(key=functools.partial(self._likelihood, v))

    def _likelihood(self, v: int, p: int) -> tuple[bool, int, int]:
        """Sort key of the claimants of slot ``v``: intact first, then nearest to ``v``."""
        return (p in self.suspect, abs(p - v), p)

    def _bound(self, claims: Sequence[int | None]) -> int:
        """One past the largest plausible seq.

        At least the number of entries and the largest signed size; plus one
        for each seq missing below an accepted one (deleted entries shift
        later seqs up). Seqs are accepted in increasing order, each only if
        below the bound that the seqs before it justify, so one absurd seq
        cannot justify itself.
        """
        base = max(self.n, max((a.size for a in self.anchors if a.source != "peer"), default=0))
        present = sorted({s for s in claims if s is not None and s >= 0})
        bound = base
        for j, s in enumerate(present):
            if s >= bound:
                break
            bound = max(bound, base + (s - j))
        return bound

    def _options(self, v: int) -> list[_Option]:
        """The ways to fill slot ``v``: each claimant's stored hash, then recomputed ones."""
        ps = self.slots[v]
        opts = [_Option(p, self.stored[p], False) for p in ps]
        opts += [_Option(p, self.computed[p], True) for p in ps if p in self.suspect]
        return [o for o in opts if not o.altered or o.leaf != self.stored[o.position]]

    def _pick(self, v: int) -> _Option:
        """The option chosen for slot ``v`` (by default, its likeliest claimant as stored)."""
        got = self.chosen.get(v)
        if got is not None:
            return got
        p = self.slots[v][0]
        return _Option(p, self.stored[p], False)

    # Rebuild ------------------------------------------------------------------------------------

    def _rebuild(self, horizon: int) -> dict[int, bool]:
        """Choose among claimants window by window up to ``horizon``; say which anchors match."""
        stored, slots = self.stored, self.slots
        base = [stored[slots[v][0]] for v in range(horizon)]
        choices = {
            v: opts
            for v in range(horizon)
            if (len(slots[v]) > 1 or slots[v][0] in self.suspect)
            and len(opts := self._options(v)) > 1
        }
        status: dict[int, bool] = {}
        frontier = Frontier()
        for anchor in self.anchors:
            if anchor.size > horizon:
                break
            lo = frontier.size
            picks, ok = _search(frontier, base, choices, lo, anchor.size, anchor.root)
            self.chosen.update(picks)
            for v, opt in picks.items():
                base[v] = opt.leaf
            frontier = _extend(frontier, base[lo : anchor.size])
            status[anchor.size] = ok
        return status

    def _judge(self, status: dict[int, bool], horizon: int, filled: int) -> None:
        """Turn anchor mismatches into forked, modified and truncated findings."""
        anchors = [a for a in self.anchors if a.size in status]
        self.matched = [a for a in anchors if status[a.size]]
        last_good = 0
        for i, a in enumerate(anchors):
            if status[a.size]:
                last_good = a.size
                continue
            later = next((b for b in anchors[i + 1 :] if status[b.size]), None)
            if later is not None:
                # A matching larger tree commits to this prefix (RFC 9162
                # §2.1.1), so the signer signed two different histories.
                self._add(
                    FindingKind.FORKED,
                    a.size,
                    f"the log forked at size {a.size}: {a.label} does not match the tree of "
                    f"{later.label}, which contains it",
                )
                continue
            if len(anchors) - i - 1:
                self.notes.append(
                    f"{len(anchors) - i - 1} larger checkpoint(s) cannot be checked "
                    "independently: they contain the same entries"
                )
            if a.source != "bundle":
                self._add(
                    FindingKind.FORKED,
                    a.size,
                    f"the log forked at size {a.size}: the bundle's first {a.size} entries do "
                    f"not hash to the root of {a.label}, so the log showed another history (or "
                    f"an entry in {last_good}..{a.size - 1} was rewritten with its hash)",
                )
            else:
                self._pinpoint(last_good, a)
            break
        skipped = [a.label for a in self.anchors if horizon < a.size <= filled]
        if skipped:
            self.notes.append(f"{', '.join(skipped)} cannot be checked: entry {horizon} is missing")
        for a in self.anchors:
            if a.size > filled and a.source != "peer":
                why = (
                    f"{a.label} is signed"
                    if a.source == "bundle"
                    else f"this verifier already trusted a log of {a.size} entries (rolled back?)"
                )
                self._add(
                    FindingKind.TRUNCATED,
                    filled,
                    f"entries {filled}..{a.size - 1} are missing: the bundle ends after "
                    f"{filled} entries, but {why}",
                )
                break

    def _pinpoint(self, lo: int, anchor: _Anchor) -> None:
        """Name entries in ``[lo, anchor.size)`` that are not canonical, else report the range."""
        hi = anchor.size
        named = False
        for v in range(lo, hi):
            p = self._pick(v).position
            if p in self.suspect:
                continue
            try:
                parse_entry(self.entries[p][1])
            except IntegrityViolation as exc:
                named = True
                self._add(
                    FindingKind.MODIFIED,
                    v,
                    f"entry {v} was modified and its logged hash rewritten: {exc.detail}",
                )
        if not named:
            self._add(
                FindingKind.MODIFIED,
                None,
                f"an entry in {lo}..{hi - 1} was modified and its logged hash rewritten: the "
                f"first {hi} entries do not match {anchor.label}"
                + (f", the first {lo} do" if lo else ""),
                span=(lo, hi),
            )

    # Reports ------------------------------------------------------------------------------------

    def _report_choices(self, status: dict[int, bool]) -> None:
        """Report edited entries, altered hashes and intruders among duplicate claims."""
        verified_to = max((s for s, ok in status.items() if ok), default=0)
        suspect = self.suspect
        for v, ps in sorted(self.slots.items()):
            if len(ps) == 1 and ps[0] not in suspect:
                continue
            pick = self._pick(v)
            for p in ps:
                if p == pick.position:
                    self._report_entry(v, p, altered=pick.altered, verified=v < verified_to)
                    continue
                how = (
                    "the signed checkpoints confirm the other"
                    if v < verified_to
                    else "no checkpoint decides which; assuming this one"
                )
                self._add(
                    FindingKind.INSERTED,
                    p,
                    f"the entry at position {p} (line {p + 2}) was inserted: it claims seq "
                    f"{v}, as does the entry at position {pick.position} ({how})",
                )

    def _report_entry(self, v: int, p: int, *, altered: bool, verified: bool) -> None:
        """Report what is wrong with the entry at position ``p`` placed at leaf ``v``."""
        if p not in self.suspect:
            return
        where = f"entry {v}" if v == p else f"entry {v} (at position {p}, line {p + 2})"
        if altered:
            msg = f"the logged hash of {where} was altered; the entry matches the checkpoint"
        elif self.stored[p] != self.computed[p]:
            msg = f"{where} was modified (its hash does not match the one logged)"
            if not verified:
                msg += "; no checkpoint covers it"
        else:
            msg = f"{where} was modified: it {self.problems[p]}"
        self._add(FindingKind.MODIFIED, v, msg)

    def _report_order(self) -> None:
        """Report entries standing at the wrong place, once intruders are set aside."""
        placed = sorted((self._pick(v).position, v) for v in self.slots)
        order = [v for _, v in placed]
        want = sorted(order)
        wrong = [i for i in range(len(order)) if order[i] != want[i]]
        if not wrong:
            return
        rank = {v: i for i, v in enumerate(want)}
        pos = {v: p for p, v in placed}
        if all(order[rank[order[i]]] == want[i] for i in wrong):
            for i in wrong:
                a, b = sorted((want[i], order[i]))
                self._add(
                    FindingKind.REORDERED,
                    want[i],
                    f"entries {a} and {b} were swapped (entry {a} is at position {pos[a]}, "
                    f"entry {b} at position {pos[b]})",
                )
            return
        signed = max((a.size for a in self.matched), default=0)
        for v in sorted(set(order) - set(_longest_increasing(order))):
            p = pos[v]
            if v >= signed > p:
                # No checkpoint covers its seq, yet it sits among signed entries.
                self._add(
                    FindingKind.INSERTED,
                    p,
                    f"the entry at position {p} (line {p + 2}) was inserted: it claims seq {v}, "
                    f"newer than every checkpoint, but stands among the first {signed} entries",
                )
            else:
                self._add(
                    FindingKind.REORDERED,
                    v,
                    f"entry {v} is out of order: it is at position {p} (line {p + 2})",
                )

    def _add(
        self,
        kind: FindingKind,
        index: int | None,
        message: str,
        span: tuple[int, int] | None = None,
    ) -> None:
        """Record a finding; past :data:`_MAX_PER_KIND` of a kind, one line says more exist."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= _MAX_PER_KIND:
            self.findings.append(Finding(kind, index, message, span))


def diagnose(
    entries: Sequence[_Entry],
    anchors: list[_Anchor],
    findings: list[Finding],
    notes: list[str],
) -> list[_Anchor]:
    """Explain a failed fast path; append findings and notes, return the matched anchors."""
    d = _Diagnosis(entries, anchors)
    d.run()
    if not d.findings and not findings:
        # Not expected: the rebuild equals the fast path when nothing is found.
        d.findings.append(
            Finding(FindingKind.MODIFIED, None, "the entries do not match the signed checkpoints")
        )
    findings.extend(d.findings)
    notes.extend(d.notes)
    return d.matched


def _search(
    frontier: Frontier,
    base: list[bytes],
    choices: dict[int, list[_Option]],
    lo: int,
    hi: int,
    root: bytes,
) -> tuple[dict[int, _Option], bool]:
    """Choose an option for each choice slot in ``[lo, hi)`` so the tree head is ``root``.

    ``base`` holds the default leaf of every slot. Depth-first over the
    slots with a choice, sharing the tree of the fixed part before each;
    bounded by :data:`_MAX_CHOICES` and :data:`_MAX_TRIES`, past which the
    first (most likely) option is kept.
    """
    choice = [v for v in range(lo, hi) if v in choices][:_MAX_CHOICES]
    picks = {v: choices[v][0] for v in choice}
    tries = _MAX_TRIES

    def dfs(k: int, fr: Frontier) -> bool:
        nonlocal tries
        if k == len(choice):
            return _extend(fr, base[fr.size : hi]).root() == root
        v = choice[k]
        fr = _extend(fr, base[fr.size : v])
        for opt in choices[v] if tries > 0 else choices[v][:1]:
            tries -= 1
            picks[v] = opt
            if dfs(k + 1, _extend(fr, [opt.leaf])):
                return True
        picks[v] = choices[v][0]
        return False

    return picks, dfs(0, frontier)


def _seq_of(raw: bytes) -> tuple[int | None, str | None]:
    """The ``seq`` an entry claims, or ``None`` and what is wrong with it."""
    try:
        obj: Any = _json_decode(raw.decode())
    except UnicodeDecodeError:
        return None, "is not UTF-8"
    except ValueError:
        return None, "is not JSON"
    if not isinstance(obj, dict):
        return None, "is not a JSON object"
    seq = obj.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        return None, "has no integer seq"
    return seq, None


def _longest_increasing(seq: Sequence[int]) -> list[int]:
    """One longest strictly increasing subsequence (patience sorting, O(n log n))."""
    import bisect

    tails: list[int] = []
    tail_at: list[int] = []
    prev = [-1] * len(seq)
    for i, x in enumerate(seq):
        j = bisect.bisect_left(tails, x)
        if j == len(tails):
            tails.append(x)
            tail_at.append(i)
        else:
            tails[j] = x
            tail_at[j] = i
        prev[i] = tail_at[j - 1] if j else -1
    out: list[int] = []
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        out.append(seq[i])
        i = prev[i]
    return out[::-1]
