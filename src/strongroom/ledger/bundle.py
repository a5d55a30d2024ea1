"""Offline audit bundles: the file ``strongroom audit export`` writes, and its verifier.

A bundle lets anyone check the audit log without the server: it holds every
entry, the log's signed checkpoints and its public key, and
:func:`verify_bundle` recomputes every hash (RFC 9162 §2.1.2, "Verifying a
Tree Head Given Entries") and every signature.

Format (``strongroom-audit-bundle/v1``), a UTF-8 text file of lines ending in
``\\n``:

* Line 1, the header, one JSON object::

    {"format": "strongroom-audit-bundle/v1",   # version marker, exact
     "origin": "strongroom.local/prod/audit/v1", # the log (checkpoint origin line)
     "verifier_key": "<name>+<hex id>+<base64>", # signed-note verifier key
     "size": 1234,                              # number of entry lines below
     "checkpoints": ["<signed note>", ...],     # C2SP tlog-checkpoint notes
     "exported_at": "2026-12-01T09:30:00Z"}     # RFC 3339

  :func:`write_bundle` writes it in RFC 8785 canonical form; readers accept
  any JSON object with exactly these members.
* Then exactly ``size`` lines, one per entry in leaf-index order::

    <base64 of the 32-byte leaf hash the server stored> <the entry's canonical bytes>

  The hash is padded standard base64 (44 characters), one space, then the
  entry exactly as it was hashed: RFC 8785 JSON escapes every control
  character, so an entry never holds a raw newline.

A malformed file raises :class:`~strongroom.errors.InvalidInput` naming the
line. Tampering is not malformation: :func:`verify_bundle` reports it as
findings (:class:`Finding`) in a :class:`VerifyReport`, each naming the entry
and what happened to it (``modified``, ``deleted``, ``inserted``,
``reordered``, ``truncated``, ``forked``, ``bad-signature``, ``key-changed``).
The fast path hashes every entry and never parses one; only when something
fails are the entries parsed, to rebuild the log by ``seq`` and say how it
was changed. Entries after the newest checkpoint are reported as unverified.

Example::

    >>> import io
    >>> from strongroom.crypto import SigningKey
    >>> from strongroom.ledger.checkpoint import Checkpoint, sign_checkpoint, verifier_key_string
    >>> from strongroom.ledger.merkle import Frontier, leaf_hash
    >>> origin = "strongroom.local/demo/audit/v1"
    >>> key = SigningKey(bytes(range(32)))  # use SigningKey.generate() for real
    >>> raws = [b'{"seq":%d,"v":1}' % i for i in range(3)]
    >>> head, _ = Frontier().extend(leaf_hash(r) for r in raws)
    >>> note = sign_checkpoint(Checkpoint(origin, 3, head.root()), key=key, name=origin)
    >>> header = BundleHeader(origin=origin, size=3, checkpoints=(note.decode(),),
    ...     verifier_key=verifier_key_string(origin, key.public_key()),
    ...     exported_at="2026-12-01T09:30:00Z")
    >>> out = io.BytesIO()
    >>> write_bundle(out, header, [(leaf_hash(r), r) for r in raws])
    >>> bundle = read_bundle(io.BytesIO(out.getvalue()))
    >>> report = verify_bundle(bundle)
    >>> report.ok, report.verified_size, report.trusted.size
    (True, 3, 3)
    >>> swapped = Bundle(header, [bundle.entries[0], bundle.entries[2], bundle.entries[1]])
    >>> for f in verify_bundle(swapped, state=report.trusted).findings:
    ...     print(f.kind, f.index, f.message)
    reordered 1 entries 1 and 2 were swapped (entry 1 is at position 2, entry 2 at position 1)
    reordered 2 entries 1 and 2 were swapped (entry 1 is at position 2, entry 2 at position 1)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Final, Self, TypeAlias

from strongroom.errors import InvalidInput, ProofInvalid
from strongroom.ledger._diagnosis import diagnose as _diagnose
from strongroom.ledger.checkpoint import parse_verifier_key, verify_checkpoint
from strongroom.ledger.entry import canonical
from strongroom.ledger.findings import Anchor as _Anchor
from strongroom.ledger.findings import Finding, FindingKind
from strongroom.ledger.findings import extend_peaks as _extend
from strongroom.ledger.merkle import HASH_SIZE, Frontier

__all__ = [
    "BUNDLE_FORMAT",
    "STATE_FORMAT",
    "Bundle",
    "BundleHeader",
    "Finding",
    "FindingKind",
    "TrustedState",
    "VerifyReport",
    "load_state",
    "read_bundle",
    "save_state",
    "verify_bundle",
    "write_bundle",
]

BUNDLE_FORMAT: Final = "strongroom-audit-bundle/v1"
"""The ``format`` member of every v1 bundle header."""

STATE_FORMAT: Final = "strongroom-audit-state/v1"
"""The ``format`` member of a saved :class:`TrustedState`."""

_Entry: TypeAlias = tuple[bytes, bytes]
"""One bundle line: ``(stored leaf hash, entry bytes)``."""

_Target: TypeAlias = str | os.PathLike[str] | IO[bytes]
"""A path, or a binary file object."""

_HEADER_KEYS: Final = frozenset(
    {"format", "origin", "verifier_key", "size", "checkpoints", "exported_at"}
)
_STATE_KEYS: Final = frozenset({"format", "origin", "verifier_key", "size", "root_hash", "note"})
_B64_HASH_LEN: Final = 44
# A 32-byte hash is 43 base64 characters and one "="; the last character
# carries two padding bits that must be zero (RFC 4648 §3.5), so only these
# 16 characters are canonical there. One space follows.
_HASH_RE: Final = re.compile(rb"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]= ")
# The 43rd digit of a canonical 32-byte encoding carries 2 data bits and 4 zero bits.
_CANON_LAST: Final = frozenset(b"AEIMQUYcgkosw048")
_RFC3339_RE: Final = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)"
)
_CHUNK: Final = 1 << 16
_MAX_PER_KIND: Final = 100
_MAX_CHOICES: Final = 16
_MAX_TRIES: Final = 64

_sha256 = hashlib.sha256
_json_decode = json.JSONDecoder().decode


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BundleHeader:
    """Line 1 of a bundle, validated on creation (``ValueError``/``TypeError`` if invalid)."""

    origin: str
    verifier_key: str
    size: int
    checkpoints: tuple[str, ...]
    exported_at: str
    format: str = BUNDLE_FORMAT

    def __post_init__(self) -> None:
        if self.format != BUNDLE_FORMAT:
            raise ValueError(f"unsupported bundle format {self.format!r}, expected {BUNDLE_FORMAT}")
        _check_str(self.origin, "origin", line=True)
        _check_str(self.verifier_key, "verifier_key", line=True)
        try:
            parse_verifier_key(self.verifier_key)
        except InvalidInput as exc:
            raise ValueError(exc.detail) from None
        _check_size(self.size, "size")
        _check_tuple(self.checkpoints, "checkpoints")
        for note in self.checkpoints:
            _check_str(note, "each checkpoint", line=False)
        _check_str(self.exported_at, "exported_at", line=True)
        if not _RFC3339_RE.fullmatch(self.exported_at):
            raise ValueError("exported_at must be an RFC 3339 timestamp")

    def to_json(self) -> bytes:
        """Return the header line (without its newline) as RFC 8785 canonical JSON."""
        return canonical(
            {
                "format": self.format,
                "origin": self.origin,
                "verifier_key": self.verifier_key,
                "size": self.size,
                "checkpoints": list(self.checkpoints),
                "exported_at": self.exported_at,
            }
        )

    @classmethod
    def from_json(cls, line: bytes) -> Self:
        """Parse a header line; :class:`~strongroom.errors.InvalidInput` names line 1."""
        try:
            obj = json.loads(line.decode())
        except UnicodeDecodeError:
            raise InvalidInput("line 1: the bundle header is not UTF-8") from None
        except ValueError:
            raise InvalidInput("line 1: the bundle header is not JSON") from None
        if not isinstance(obj, dict):
            raise InvalidInput("line 1: the bundle header is not a JSON object")
        if obj.get("format") != BUNDLE_FORMAT:
            raise InvalidInput(
                f"line 1: not a {BUNDLE_FORMAT} bundle (format {obj.get('format')!r})"
            )
        if set(obj) != _HEADER_KEYS:
            wrong = sorted(set(obj) ^ _HEADER_KEYS)
            raise InvalidInput(f"line 1: the header members are wrong: {', '.join(wrong)}")
        checkpoints = obj["checkpoints"]
        if not isinstance(checkpoints, list):
            raise InvalidInput("line 1: checkpoints must be a list of signed notes")
        try:
            return cls(**{**obj, "checkpoints": tuple(checkpoints)})
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"line 1: {exc}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class Bundle:
    """A parsed bundle: its header and its ``(stored leaf hash, entry bytes)`` lines."""

    header: BundleHeader
    entries: Sequence[_Entry]

    def __post_init__(self) -> None:
        if len(self.entries) != self.header.size:
            raise ValueError(
                f"the header declares {self.header.size} entries, {len(self.entries)} given"
            )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TrustedState:
    """The newest checkpoint a verifier has checked: what the next bundle must extend.

    ``note`` is the signed checkpoint note itself, so it can be handed to
    other verifiers (``--trust``) to detect a log that shows them a fork.
    """

    origin: str
    verifier_key: str
    size: int
    root_hash: bytes
    note: str = ""

    def __post_init__(self) -> None:
        _check_str(self.origin, "origin", line=True)
        _check_str(self.verifier_key, "verifier_key", line=True)
        _check_size(self.size, "size")
        _check_bytes(self.root_hash, "root_hash", size=HASH_SIZE)
        if not isinstance(self.note, str):
            raise TypeError("note must be a str")

    def to_json(self) -> str:
        """Return the state as canonical JSON, the root hash in base64."""
        return canonical(
            {
                "format": STATE_FORMAT,
                "origin": self.origin,
                "verifier_key": self.verifier_key,
                "size": self.size,
                "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
                "note": self.note,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse :meth:`to_json` output; :class:`~strongroom.errors.InvalidInput` otherwise."""
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the verifier state is not JSON") from None
        if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT:
            raise InvalidInput(f"the verifier state is not a {STATE_FORMAT} object")
        if set(obj) != _STATE_KEYS:
            raise InvalidInput("the verifier state has the wrong members")
        try:
            root = base64.b64decode(obj["root_hash"], validate=True)
            return cls(
                origin=obj["origin"],
                verifier_key=obj["verifier_key"],
                size=obj["size"],
                root_hash=root,
                note=obj["note"],
            )
        except (TypeError, ValueError, binascii.Error) as exc:
            raise InvalidInput(f"the verifier state is invalid: {exc}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of :func:`verify_bundle`.

    ``ok`` is true exactly when there is no finding. ``size`` is the number of
    entries, ``verified_size`` how many leading entries are proven intact by a
    signed checkpoint (the rest are reported in ``notes`` as unverified),
    ``checkpoints`` the number of validly signed checkpoints in the bundle.
    ``trusted`` is the state to save when ``ok`` (the largest verified
    checkpoint), else ``None``.
    """

    ok: bool
    size: int
    verified_size: int
    checkpoints: int
    findings: list[Finding]
    trusted: TrustedState | None
    notes: list[str]


# -- Reading and writing --------------------------------------------------------------------------


def write_bundle(target: _Target, header: BundleHeader, entries: Iterable[_Entry]) -> None:
    """Write ``header`` and ``entries`` (``(stored leaf hash, entry bytes)``) as a bundle.

    ``target`` is a path (created or truncated) or a binary file. Raises
    ``ValueError`` if the number of entries differs from ``header.size`` or
    an entry cannot be one line (empty, or holding a newline).
    """
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as f:
            _write(f, header, entries)
    else:
        _write(target, header, entries)


def _write(f: IO[bytes], header: BundleHeader, entries: Iterable[_Entry]) -> None:
    f.write(header.to_json() + b"\n")
    count = 0
    buf: list[bytes] = []
    for stored, raw in entries:
        _check_bytes(stored, f"the leaf hash of entry {count}", size=HASH_SIZE)
        _check_bytes(raw, f"entry {count}", size=None)
        if not raw or b"\n" in raw or b"\r" in raw:
            raise ValueError(f"entry {count} must be one non-empty line")
        buf.append(base64.b64encode(stored) + b" " + raw + b"\n")
        count += 1
        if len(buf) >= _CHUNK:
            f.write(b"".join(buf))
            buf.clear()
    f.write(b"".join(buf))
    if count != header.size:
        raise ValueError(f"the header declares {header.size} entries, {count} were written")


def read_bundle(source: _Target) -> Bundle:
    """Read a bundle from a path or binary file.

    Raises :class:`~strongroom.errors.InvalidInput` with a one-line message
    naming the line number if the file is not a well-formed bundle.
    """
    data = _read_all(source)
    if not data:
        raise InvalidInput("line 1: the file is empty, expected a bundle header")
    lines = data.split(b"\n")
    if lines.pop():
        raise InvalidInput(f"line {len(lines) + 1}: no final newline (is the file truncated?)")
    if b"\r" in data:
        number = data.count(b"\n", 0, data.index(b"\r")) + 1
        raise InvalidInput(f"line {number}: carriage return (CRLF line endings?); bundles use LF")
    header = BundleHeader.from_json(lines[0])
    body = lines[1:]
    del lines
    if len(body) < header.size:
        raise InvalidInput(
            f"line {len(body) + 2}: the file ends after {len(body)} entries, "
            f"but the header declares {header.size}"
        )
    if len(body) > header.size:
        raise InvalidInput(
            f"line {header.size + 2}: more lines than the {header.size} entries the header declares"
        )
    # Matching only the 45-byte prefix keeps this fast. The entry after it
    # is any non-empty run of bytes without a line break, kept as is: its
    # integrity is for verify_bundle to judge, not the parser.
    # One pass decodes every hash strictly and checks the separator and the
    # canonical last base64 digit; only if something fails does the slower
    # per-line regex find the first bad line for the message (the regex on
    # every line was a third of the time to verify a million entries).
    a2b = binascii.a2b_base64
    canon, sep, n = _CANON_LAST, _B64_HASH_LEN, _B64_HASH_LEN + 1
    try:
        hashes = [
            a2b(line[:sep], strict_mode=True)
            if len(line) > n and line[sep] == 0x20 and line[sep - 2] in canon
            else b""
            for line in body
        ]
    except binascii.Error:
        hashes = [b""]
    if b"" in hashes or any(len(h) != HASH_SIZE for h in hashes[:1]):
        match = _HASH_RE.fullmatch
        for i, line in enumerate(body):
            if len(line) <= n or match(line, 0, n) is None:
                raise InvalidInput(f"line {i + 2}: {_line_problem(line)}")
        hashes = [a2b(line[:sep]) for line in body]  # pragma: no cover - the regex found none
    raws = [line[n:] for line in body]
    return Bundle(header, list(zip(hashes, raws, strict=True)))


def _read_all(source: _Target) -> bytes:
    """All bytes of a path or binary file."""
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    return source.read()


def _line_problem(line: bytes) -> str:
    """Say what is wrong with an entry line whose prefix failed :data:`_HASH_RE`."""
    if len(line) <= _B64_HASH_LEN + 1 or line[_B64_HASH_LEN : _B64_HASH_LEN + 1] != b" ":
        return "expected '<base64 leaf hash> <entry>'"
    return "the leaf hash is not canonical base64 of 32 bytes"


# -- Trusted state --------------------------------------------------------------------------------


def load_state(path: str | os.PathLike[str]) -> TrustedState | None:
    """Return the state saved at ``path``, or ``None`` if there is no file."""
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    return TrustedState.from_json(text)


def save_state(path: str | os.PathLike[str], state: TrustedState) -> None:
    """Write ``state`` to ``path`` atomically, readable by the owner only (0600).

    The parent directory is created (0700) if needed. The file is written
    beside its destination, flushed to disk, then renamed over it, so a crash
    leaves either the old state or the new one, never a torn file.
    """
    dest = Path(path)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp already creates 0600; say so, whatever the umask did.
            os.fchmod(f.fileno(), 0o600)
            f.write(state.to_json().encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(dest.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- Verification ---------------------------------------------------------------------------------


def verify_bundle(
    bundle: Bundle,
    *,
    state: TrustedState | None = None,
    verifier_key: str | None = None,
    trusted_notes: Sequence[bytes] = (),
) -> VerifyReport:
    """Verify every hash and signature of ``bundle``; report exactly what is wrong.

    ``state`` is the last checkpoint this verifier trusted (the bundle must
    extend it), ``verifier_key`` the log key to require (else the state's key,
    else the bundle's own key is trusted on first use), ``trusted_notes``
    signed checkpoints other verifiers saw (a conflicting one is a fork).
    Never raises for tampering; raises :class:`~strongroom.errors.InvalidInput`
    if ``verifier_key`` is malformed or ``state`` is for another log.
    """
    header = bundle.header
    n = header.size
    findings: list[Finding] = []
    notes: list[str] = []
    if state is not None and state.origin != header.origin:
        raise InvalidInput(
            f"the verifier state is for log {state.origin!r}, the bundle for {header.origin!r}"
        )
    # 1. Decide which key to trust.
    trusted_key = _check_key(header, state, verifier_key, findings, notes)
    # 2. Verify every signature; collect the signed tree heads.
    anchors = _collect_anchors(header, state, trusted_notes, findings, notes)
    signed = sum(1 for a in anchors if a.source == "bundle")
    # 3. Two valid signatures on different roots for one size: a split view.
    reference = _check_same_size(anchors, findings)
    for a in list(reference.values()):
        if a.size > n and a.source == "peer":
            notes.append(f"{a.label} is beyond the bundle's {n} entries; not compared")
            del reference[a.size]
    checkable = sorted((a for a in reference.values() if a.size <= n), key=lambda a: a.size)
    # 4. Fast path: hash every entry, compare with the stored hash, and the
    #    tree head at each signed size (RFC 9162 §2.1.2).
    if _fast_path(bundle.entries, checkable) and len(checkable) == len(reference):
        matched = checkable
    else:
        # 5. Slow path, only if something failed: which entry, and how.
        matched = _diagnose(bundle.entries, list(reference.values()), findings, notes)
    ok = not findings
    verified = _verified_size(matched, findings) if trusted_key else 0
    trusted: TrustedState | None = None
    if ok:
        trusted = _new_state(header, state, matched)
        if verified < n:
            notes.append(
                f"entries {verified}..{n - 1} ({n - verified}) are newer than every checkpoint "
                "and are not covered by a signature"
            )
    return VerifyReport(ok, n, verified, signed, _ordered(findings), trusted, notes)


def _check_key(
    header: BundleHeader,
    state: TrustedState | None,
    verifier_key: str | None,
    findings: list[Finding],
    notes: list[str],
) -> bool:
    """Whether the bundle's key is the one required, else trusted before, else new (TOFU)."""
    pinned = verifier_key
    if pinned is None and state is not None and state.verifier_key:
        pinned = state.verifier_key
    if pinned is None:
        notes.append(
            f"trusting the bundle's key {header.verifier_key} on first use; "
            "require it, or keep the verifier state, to notice if it changes"
        )
        return True
    if parse_verifier_key(pinned) == parse_verifier_key(header.verifier_key):
        return True
    findings.append(
        Finding(
            FindingKind.KEY_CHANGED,
            None,
            f"the bundle is signed with key {header.verifier_key}, but key {pinned} is trusted",
        )
    )
    notes.append("checked against the bundle's own key, which is not trusted")
    return False


def _collect_anchors(
    header: BundleHeader,
    state: TrustedState | None,
    trusted_notes: Sequence[bytes],
    findings: list[Finding],
    notes: list[str],
) -> list[_Anchor]:
    """Verify every checkpoint signature (C2SP signed-note); return the signed tree heads.

    The bundle's checkpoints, then the state (verified when it was saved),
    then the notes of other verifiers; a bad note of theirs is only noted.
    """
    name, key = parse_verifier_key(header.verifier_key)
    anchors: list[_Anchor] = []
    for i, text in enumerate(header.checkpoints):
        try:
            cp = verify_checkpoint(text.encode(), verifier=key, name=name, origin=header.origin)
        except ProofInvalid as exc:
            findings.append(
                Finding(
                    FindingKind.BAD_SIGNATURE,
                    None,
                    f"checkpoint #{i + 1} of the bundle{_claimed_size(text)} does not verify "
                    f"with key {header.verifier_key}: {exc.detail}",
                )
            )
            continue
        anchors.append(_Anchor(cp.size, cp.root_hash, "bundle", f"checkpoint {cp.size}", text))
    if state is not None:
        label = f"the checkpoint of size {state.size} this verifier trusted before"
        anchors.append(_Anchor(state.size, state.root_hash, "state", label, state.note))
    for j, raw in enumerate(trusted_notes):
        try:
            cp = verify_checkpoint(raw, verifier=key, name=name, origin=header.origin)
        except ProofInvalid as exc:
            notes.append(f"trusted note #{j + 1} ignored: {exc.detail}")
            continue
        label = f"trusted note #{j + 1} (size {cp.size})"
        anchors.append(_Anchor(cp.size, cp.root_hash, "peer", label, raw.decode()))
    return anchors


def _new_state(
    header: BundleHeader, state: TrustedState | None, matched: Sequence[_Anchor]
) -> TrustedState | None:
    """The largest verified checkpoint, as the state to save (the old one if not larger)."""
    newest = max(matched, key=lambda a: a.size, default=None)
    if newest is None or newest.source == "state":
        return state
    return TrustedState(
        origin=header.origin,
        verifier_key=header.verifier_key,
        size=newest.size,
        root_hash=newest.root,
        note=newest.note,
    )


def _check_same_size(anchors: list[_Anchor], findings: list[Finding]) -> dict[int, _Anchor]:
    """Report sizes signed with two roots; return one reference anchor per size.

    The bundle's own checkpoint is preferred as the reference, so its entries
    are judged against the history it claims.
    """
    rank = {"bundle": 0, "state": 1, "peer": 2}
    by_size: dict[int, list[_Anchor]] = {}
    for a in sorted(anchors, key=lambda a: rank[a.source]):
        by_size.setdefault(a.size, []).append(a)
    reference: dict[int, _Anchor] = {}
    for size, group in sorted(by_size.items()):
        first = group[0]
        reference[size] = first
        other = next((a for a in group if a.root != first.root), None)
        if other is not None:
            both = (
                f"two of the bundle's checkpoints of size {size}"
                if other.source == first.source == "bundle"
                else f"{first.label} and {other.label}"
            )
            findings.append(
                Finding(
                    FindingKind.FORKED,
                    size,
                    f"the log forked at size {size}: {both} are both validly signed but have "
                    "different roots",
                )
            )
    return reference


def _fast_path(entries: Sequence[_Entry], anchors: Sequence[_Anchor]) -> bool:
    """Whether every stored hash is right and the tree matches every anchor (all ``<= n``)."""
    frontier = Frontier()
    pos = 0
    n = len(entries)
    stops = iter(anchors)
    anchor = next(stops, None)
    while True:
        while anchor is not None and anchor.size == pos:
            if frontier.root() != anchor.root:
                return False
            anchor = next(stops, None)
        if pos == n:
            return True
        end = min(pos + _CHUNK, n, anchor.size if anchor is not None else n)
        chunk = entries[pos:end]
        # RFC 9162 §2.1.1: a leaf hash is SHA-256(0x00 || entry); inlined
        # from merkle.leaf_hash, as this is the hottest loop.
        computed = [_sha256(b"\x00" + raw).digest() for _, raw in chunk]
        if computed != [stored for stored, _ in chunk]:
            return False
        frontier = _extend(frontier, computed)
        pos = end


def _verified_size(matched: Sequence[_Anchor], findings: Sequence[Finding]) -> int:
    """The largest matched size whose entries no finding touches.

    A finding at leaf ``i`` leaves ``[0, i)`` intact; a fork at size ``s``
    only ``[0, s - 1)`` for certain, as the histories may part anywhere below.
    """
    first_bad: int | None = None
    for f in findings:
        if f.span is not None:
            where = f.span[0]
        elif f.index is not None and f.kind not in (
            FindingKind.BAD_SIGNATURE,
            FindingKind.KEY_CHANGED,
        ):
            where = f.index - 1 if f.kind == FindingKind.FORKED else f.index
        else:
            continue
        first_bad = where if first_bad is None else min(first_bad, where)
    sizes = [a.size for a in matched if first_bad is None or a.size <= first_bad]
    return max(sizes, default=0)


def _ordered(findings: list[Finding]) -> list[Finding]:
    """Trust findings first, then the rest by position."""
    order = list(FindingKind)
    first = (FindingKind.KEY_CHANGED, FindingKind.BAD_SIGNATURE, FindingKind.FORKED)

    def key(f: Finding) -> tuple[int, int, int]:
        where = f.span[0] if f.span else (f.index if f.index is not None else sys.maxsize)
        return (0 if f.kind in first else 1, where, order.index(FindingKind(f.kind)))

    return sorted(findings, key=key)


def _claimed_size(note: str) -> str:
    """`` (claiming size N)`` from an unverified note, for messages; empty if unreadable."""
    lines = note.split("\n")
    return f" (claiming size {lines[1]})" if len(lines) > 2 and lines[1].isdigit() else ""


def _check_size(value: object, name: str) -> None:
    """Raise unless ``value`` is a non-negative int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    if value < 0:
        raise ValueError(f"{name} must not be negative")


def _check_str(value: object, name: str, *, line: bool) -> None:
    """Raise unless ``value`` is a non-empty str (one line if ``line``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str")
    if not value or (line and ("\n" in value or "\r" in value)):
        raise ValueError(f"{name} must be a non-empty {'line' if line else 'str'}")


def _check_bytes(value: object, name: str, *, size: int | None) -> None:
    """Raise unless ``value`` is bytes (of ``size`` bytes if given)."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    if size is not None and len(value) != size:
        raise ValueError(f"{name} must be {size} bytes")


def _check_tuple(value: object, name: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a tuple."""
    if not isinstance(value, tuple):
        raise TypeError(f"{name} must be a tuple")
