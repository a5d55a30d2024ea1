"""ACL policies: parse policy documents and decide what a token may do on a path.

Paths are *logical*: ``secret/app/db`` is mount ``secret`` plus record path
``app/db``; admin paths look like ``sys/policies/acl/ops``. A rule pattern is a
path whose segments may be ``+`` (exactly one non-empty segment) and which may
end in ``*`` (a prefix glob, e.g. ``secret/app/*`` or ``secret/app*``). A path
may end in one ``/`` to name a folder, as in a list request.

Evaluation follows HashiCorp Vault's ACLs: deny by default, the most specific
matching pattern wins (see :class:`Acl`), capabilities of that pattern are
unioned across policies, and ``deny`` there empties the result.

Example::

    >>> from strongroom.types import Capability
    >>> doc = PolicyDocument.parse('''
    ... rules:
    ...   - path: "secret/app/*"
    ...     capabilities: [read, list]
    ...   - path: "secret/app/admin"
    ...     capabilities: [deny]
    ... ''')
    >>> acl = Acl([doc])
    >>> sorted(c.value for c in acl.capabilities("secret/app/db"))
    ['list', 'read']
    >>> acl.allows("secret/app/admin", Capability.READ)
    False
    >>> acl.may_have_readable_under("secret")
    True
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import yaml

from strongroom.errors import InvalidInput, PermissionDenied
from strongroom.types import Capability, PolicyName

__all__ = [
    "GRANTABLE",
    "PURPOSE_RE",
    "ROOT_POLICY",
    "Acl",
    "AclLike",
    "PolicyDocument",
    "RootAcl",
    "Rule",
    "validate_policy_name",
]

ROOT_POLICY: Final = PolicyName("root")
"""The reserved name of the built-in policy that allows everything."""

GRANTABLE: Final[frozenset[Capability]] = frozenset(Capability) - {Capability.DENY}
"""Every capability a path can be granted (all but ``deny``, which only takes away)."""

_NAME_RE: Final = re.compile(r"[a-z0-9_-]{1,128}")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_MAX_DOCUMENT_CHARS: Final = 1 << 20
_DOC_KEYS: Final = frozenset({"rules", "description"})
_RULE_KEYS: Final = frozenset({"path", "capabilities", "require_consent"})
PURPOSE_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
"""What a purpose of use looks like (``treatment``, ``research.oncology``)."""
_NOTHING: Final[frozenset[Capability]] = frozenset()

# Priority sort key; ascending order puts the highest-priority pattern first.
_Key = tuple[int, bool, int, int, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A validated, compiled rule pattern."""

    text: str
    regex: re.Pattern[str]
    tokens: tuple[str | None, ...]  # Literal chunks, with None standing for a ``+`` segment.
    is_prefix: bool
    key: _Key

    @property
    def is_exact(self) -> bool:
        """True when the pattern has no wildcard and so matches only itself."""
        return not self.is_prefix and None not in self.tokens

    def under(self, folder: str) -> tuple[bool, bool]:
        """Return (matches every path under ``folder``, matches some path under it).

        ``folder`` is ``""`` or ends in ``/``; "under" means strictly below it.
        """
        pos = 0
        for tok in self.tokens:
            if pos >= len(folder):
                return False, True  # The remaining tokens spell a tail below the folder.
            if tok is None:
                # A ``+`` is a whole segment, so it spans exactly one folder segment.
                pos = folder.find("/", pos)
                continue
            n = min(len(tok), len(folder) - pos)
            if tok[:n] != folder[pos : pos + n]:
                return False, False
            if n < len(tok):
                return False, True  # The literal runs on past the folder's final ``/``.
            pos += n
        return self.is_prefix, self.is_prefix


@functools.lru_cache(maxsize=4096)
def _compile(pattern: str) -> _Pattern:
    """Validate ``pattern`` and compile it; raise :class:`InvalidInput` if it is malformed."""

    def bad(why: str) -> InvalidInput:
        """Build the error for this pattern."""
        return InvalidInput(f"path pattern {pattern!r} {why}")

    if not pattern:
        raise InvalidInput("path pattern must not be empty")
    if _CONTROL_RE.search(pattern):
        raise bad("contains a control character")
    if pattern.startswith("/"):
        raise bad("must not start with '/'")
    is_prefix = pattern.endswith("*")
    body = pattern[:-1] if is_prefix else pattern
    if "*" in body:
        raise bad("may use '*' only as its last character")
    segments = body.split("/")
    tokens: list[str | None] = []
    literal = ""
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        literal += "/" if i else ""
        if seg == "+":
            if last and is_prefix:
                raise bad("may not use '+*'; write '+/*'")
            tokens += [literal, None] if literal else [None]
            literal = ""
            continue
        if "+" in seg:
            raise bad("may use '+' only as a whole segment")
        if seg in (".", ".."):
            raise bad("must not contain '.' or '..' segments")
        if not seg and not (last and is_prefix):
            raise bad("must not contain empty segments")
        literal += seg
    tokens += [literal] if literal else []
    regex = "".join("[^/]+" if t is None else re.escape(t) for t in tokens)
    first_wildcard = pattern.find("+") if "+" in pattern else len(body)
    # Vault's priority order, each term ranking "higher priority" as smaller:
    # (1) later first wildcard, (2) no trailing glob, (3) fewer '+' segments,
    # (4) longer pattern, (5) lexicographically larger pattern, as in Vault's
    # code ("if P1 is smaller lexicographically, it is lower priority"). Rule 4
    # makes the compared patterns equally long, so negated code points sort
    # the larger string first.
    key = (
        -first_wildcard,
        is_prefix,
        tokens.count(None),
        -len(pattern),
        tuple(-ord(ch) for ch in pattern),
    )
    compiled = re.compile(regex + (".*" if is_prefix else ""), re.DOTALL)
    return _Pattern(pattern, compiled, tuple(tokens), is_prefix, key)


def _check_path(path: str) -> None:
    """Raise :class:`InvalidInput` unless ``path`` is a well-formed logical path."""
    if not isinstance(path, str):
        raise TypeError(f"path must be str, not {type(path).__name__}")
    body = path.removesuffix("/")
    if (
        not body
        or body.startswith("/")
        or _CONTROL_RE.search(path)
        or any(seg in ("", ".", "..") for seg in body.split("/"))
    ):
        raise InvalidInput(
            "path must be relative, with no empty, '.' or '..' segments and no control characters"
        )


def _folder(prefix: str) -> str:
    """Normalise a folder prefix to ``""`` (everything) or a path ending in ``/``."""
    if prefix == "":
        return ""
    _check_path(prefix)
    return prefix if prefix.endswith("/") else prefix + "/"


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``path`` pattern and the capabilities it grants (or ``deny``).

    ``capabilities`` may be given as any iterable of capability names; it is
    normalised to a non-empty ``frozenset[Capability]``. Raises
    :class:`InvalidInput` for a malformed pattern or an unknown or empty
    capability list.
    """

    path: str
    capabilities: frozenset[Capability]
    require_consent: frozenset[str] = frozenset()
    """Purposes of use: reading a data subject's record here needs the request to
    declare one of them and the subject's valid consent to it (GDPR art. 6(1)(a))."""

    def __post_init__(self) -> None:
        _compile(self.path)
        purposes: object = self.require_consent
        if isinstance(purposes, str | bytes) or not isinstance(purposes, Iterable):
            raise InvalidInput("require_consent must be a list of purposes")
        checked = frozenset(purposes)
        for p in checked:
            if not isinstance(p, str) or not PURPOSE_RE.fullmatch(p):
                raise InvalidInput(f"purpose {p!r} must be 1-64 of a-z 0-9 _ . -")
        object.__setattr__(self, "require_consent", checked)
        raw: object = self.capabilities
        if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
            raise InvalidInput("capabilities must be a list of capability names")
        parsed: set[Capability] = set()
        for item in raw:
            try:
                parsed.add(Capability(item))
            except (ValueError, TypeError):
                known = ", ".join(Capability)
                raise InvalidInput(f"unknown capability {item!r} (known: {known})") from None
        if not parsed:
            raise InvalidInput("capabilities must not be empty")
        object.__setattr__(self, "capabilities", frozenset(parsed))

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as plain data, capabilities in canonical order."""
        caps = [c.value for c in Capability if c in self.capabilities]
        out: dict[str, Any] = {"path": self.path, "capabilities": caps}
        if self.require_consent:
            out["require_consent"] = sorted(self.require_consent)
        return out


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A parsed policy: an ordered tuple of :class:`Rule` and an optional description."""

    rules: tuple[Rule, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        rules, description = tuple(self.rules), self.description
        if not all(isinstance(r, Rule) for r in rules) or not isinstance(description, str):
            raise TypeError("PolicyDocument takes an iterable of Rule and a str description")
        object.__setattr__(self, "rules", rules)

    @classmethod
    def parse(cls, text: str | bytes) -> PolicyDocument:
        """Parse a JSON or YAML policy document (detected automatically).

        Text (or UTF-8 bytes) that opens with ``{`` is read as JSON, anything
        else as YAML (safe loader). Raises :class:`InvalidInput` with a
        one-line message, naming the rule index as ``rules[i]`` when a rule is
        at fault.
        """
        data = _load(text)
        if not isinstance(data, dict):
            raise InvalidInput("policy document must be a mapping with a 'rules' list")
        unknown = sorted(str(k) for k in data if k not in _DOC_KEYS)
        if unknown:
            raise InvalidInput(f"policy document has unknown key(s): {', '.join(unknown)}")
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list):
            raise InvalidInput("policy document needs a 'rules' list")
        description = "" if data.get("description") is None else data["description"]
        if not isinstance(description, str):
            raise InvalidInput("policy description must be a string")
        rules: list[Rule] = []
        for i, item in enumerate(raw_rules):
            try:
                rules.append(_rule_from_data(item))
            except InvalidInput as exc:
                raise InvalidInput(f"rules[{i}]: {exc.detail}", rule=i) from exc
        return cls(rules=tuple(rules), description=description)

    def to_dict(self) -> dict[str, Any]:
        """Return the document as plain data that :meth:`parse` reads back equal."""
        return {"description": self.description, "rules": [r.to_dict() for r in self.rules]}


def _rule_from_data(item: object) -> Rule:
    """Build a :class:`Rule` from one decoded ``rules`` entry."""
    if not isinstance(item, dict):
        raise InvalidInput("rule must be a mapping with 'path' and 'capabilities'")
    unknown = sorted(str(k) for k in item if k not in _RULE_KEYS)
    if unknown:
        raise InvalidInput(f"unknown key(s): {', '.join(unknown)}")
    path, caps = item.get("path"), item.get("capabilities")
    if not isinstance(path, str):
        raise InvalidInput("'path' must be a string")
    if not isinstance(caps, list):
        raise InvalidInput("'capabilities' must be a list of capability names")
    consent = item.get("require_consent", [])
    if not isinstance(consent, list):
        raise InvalidInput("'require_consent' must be a list of purposes")
    return Rule(path=path, capabilities=caps, require_consent=consent)  # type: ignore[arg-type]


def _load(text: str | bytes) -> object:
    """Decode JSON or YAML text into plain data; raise :class:`InvalidInput` on bad syntax."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("policy document is not valid UTF-8") from None
    if not isinstance(text, str):
        raise TypeError(f"policy text must be str or bytes, not {type(text).__name__}")
    if len(text) > _MAX_DOCUMENT_CHARS:
        raise InvalidInput(f"policy document is larger than {_MAX_DOCUMENT_CHARS} characters")
    try:
        # A document that opens with "{" is JSON; anything else is YAML.
        return json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except RecursionError:
        raise InvalidInput("policy document is nested too deeply") from None
    except json.JSONDecodeError as exc:
        where = f"(line {exc.lineno}, column {exc.colno})"
        raise InvalidInput(f"policy document is not valid JSON: {exc.msg} {where}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InvalidInput(f"policy document is not valid YAML: {problem}{where}") from exc


@runtime_checkable
class AclLike(Protocol):
    """What the service layer needs from an ACL; :class:`Acl` and :class:`RootAcl` satisfy it."""

    def capabilities(self, path: str) -> frozenset[Capability]:
        """Return the capabilities granted on ``path`` (never containing ``deny``)."""

    def allows(self, path: str, capability: Capability) -> bool:
        """True when ``capability`` is granted on ``path``."""

    def require(self, path: str, capability: Capability) -> None:
        """Raise :class:`PermissionDenied` unless ``capability`` is granted on ``path``."""

    def may_have_readable_under(self, prefix: str) -> bool:
        """Conservatively, True when some path under the folder ``prefix`` may be readable."""

    def consent_purposes(self, path: str) -> frozenset[str]:
        """Purposes one of which a read of a subject's record at ``path`` needs consent for."""


class _BaseAcl:
    """Shared ``allows``/``require`` on top of ``capabilities``."""

    __slots__ = ()

    def consent_purposes(self, path: str) -> frozenset[str]:
        """Purposes one of which a read of a subject's record at ``path`` needs consent for.

        Taken from the rules of the winning pattern (as for capabilities);
        empty when none requires consent.
        """
        _check_path(path)
        return frozenset()

    def capabilities(self, path: str) -> frozenset[Capability]:
        """Return the capabilities granted on ``path``; subclasses implement it."""
        raise NotImplementedError

    def allows(self, path: str, capability: Capability) -> bool:
        """True when ``capability`` is granted on ``path``.

        Raises :class:`InvalidInput` for a malformed path and ``ValueError`` when
        asked about ``deny``, which is never granted (asking is a caller bug).
        """
        if capability == Capability.DENY:
            raise ValueError("'deny' is not a grantable capability; ask about what you need")
        return capability in self.capabilities(path)

    def require(self, path: str, capability: Capability) -> None:
        """Raise :class:`PermissionDenied` unless ``capability`` is granted on ``path``.

        The message is the same for every denial, so it reveals neither whether
        the path exists nor which rule refused it.
        """
        if not self.allows(path, capability):
            raise PermissionDenied(
                f"policy does not grant '{capability.value}' here", capability=capability.value
            )


class Acl(_BaseAcl):
    """The effective permissions of a set of policies (those attached to one token).

    For a path, every matching rule of every policy is considered and only the
    highest-priority pattern counts, by Vault's order: (1) the later first
    wildcard (``+`` or ``*``) wins; (2) not ending in ``*`` beats ending in it;
    (3) fewer ``+`` segments win; (4) the longer pattern wins; (5) the
    lexicographically larger pattern wins (as Vault's code does). An exact pattern therefore always
    beats a wildcard. The capabilities of all rules with that exact pattern are
    unioned; if the union holds ``deny`` the result is empty, so a deny at the
    winning pattern beats grants from any policy. A deny at a *less* specific
    pattern does not override a more specific grant: ``deny`` on ``secret/*``
    leaves ``read`` on ``secret/app/db`` in force, so narrow exceptions can be
    carved out of broad denials, as in Vault. Without a matching rule nothing
    is granted.

    Results are cached per path in an LRU of ``cache_size`` entries.
    """

    __slots__ = ("_consent", "_exact", "_lookup", "_ranked", "_wild")

    def __init__(self, policies: Iterable[PolicyDocument], *, cache_size: int = 4096) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must not be negative")
        merged: dict[str, set[Capability]] = {}
        consent: dict[str, set[str]] = {}
        for doc in policies:
            if not isinstance(doc, PolicyDocument):
                raise TypeError(f"expected PolicyDocument, not {type(doc).__name__}")
            for rule in doc.rules:
                merged.setdefault(rule.path, set()).update(rule.capabilities)
                consent.setdefault(rule.path, set()).update(rule.require_consent)
        self._consent = {p: frozenset(v) for p, v in consent.items()}
        entries = [
            (_compile(p), _NOTHING if Capability.DENY in caps else frozenset(caps))
            for p, caps in merged.items()
        ]
        entries.sort(key=lambda e: e[0].key)
        self._ranked: tuple[tuple[_Pattern, frozenset[Capability]], ...] = tuple(entries)
        self._exact = {p.text: caps for p, caps in entries if p.is_exact}
        self._wild = tuple((p, caps) for p, caps in entries if not p.is_exact)
        self._lookup = functools.lru_cache(maxsize=cache_size)(self._evaluate)

    def _evaluate(self, path: str) -> frozenset[Capability]:
        """Evaluate ``path`` without the cache: exact patterns first, then by priority."""
        _check_path(path)
        exact = self._exact.get(path)
        if exact is not None:
            return exact
        for pattern, caps in self._wild:  # Highest priority first.
            if pattern.regex.fullmatch(path):
                return caps
        return _NOTHING

    def capabilities(self, path: str) -> frozenset[Capability]:
        """Return the capabilities granted on ``path`` (never containing ``deny``).

        Raises :class:`InvalidInput` for a malformed path.
        """
        return self._lookup(path)

    def consent_purposes(self, path: str) -> frozenset[str]:
        """Purposes required by the winning pattern's rules (see :class:`_BaseAcl`)."""
        _check_path(path)
        if path in self._exact:
            return self._consent.get(path, frozenset())
        for pattern, _ in self._wild:
            if pattern.regex.fullmatch(path):
                return self._consent.get(pattern.text, frozenset())
        return frozenset()

    def may_have_readable_under(self, prefix: str) -> bool:
        """Conservatively, True when some path strictly under folder ``prefix`` may grant read.

        ``""`` means the whole namespace. False is exact: no path under the
        folder is readable. True may be a false positive, so callers still
        check each concrete path with :meth:`allows`.
        """
        folder = _folder(prefix)
        for pattern, caps in self._ranked:  # Highest priority first.
            covers_all, matches_some = pattern.under(folder)
            if covers_all:
                # Nothing ranked below a pattern that matches the whole folder can win there.
                return Capability.READ in caps
            if matches_some and Capability.READ in caps:
                return True
        return False


class RootAcl(_BaseAcl):
    """The ACL of the ``root`` policy: every capability on every well-formed path."""

    __slots__ = ()

    def capabilities(self, path: str) -> frozenset[Capability]:
        """Return every grantable capability; raises :class:`InvalidInput` for a malformed path."""
        _check_path(path)
        return GRANTABLE

    def may_have_readable_under(self, prefix: str) -> bool:
        """Always True (after validating ``prefix``)."""
        _folder(prefix)
        return True


def validate_policy_name(name: str) -> PolicyName:
    """Return ``name`` as a :class:`PolicyName` if it may be written, else raise.

    Names are 1 to 128 characters of lowercase letters, digits, ``-`` and
    ``_``; ``root`` is reserved. Raises :class:`InvalidInput`.
    """
    if not _NAME_RE.fullmatch(name):
        raise InvalidInput(
            "policy name must be 1 to 128 characters of lowercase letters, digits, '-' or '_'"
        )
    if name == ROOT_POLICY:
        raise InvalidInput("policy name 'root' is reserved")
    return PolicyName(name)
