"""Tests for ``strongroom.vault.policy``: parsing, matching, priority and deny rules.

A note on priority rule (5): the brief (and :class:`Acl`) make the
lexicographically *smaller* pattern win a full tie, as a deterministic
tie-break. Vault's documentation says "if P1 is smaller lexicographically, it
is lower priority", i.e. Vault picks the larger one. The tie needs two
different patterns that match one path and agree on rules (1)-(4), such as
``+/ab/+`` and ``+/+/ab``; :meth:`TestAcl.test_rule_5_lexicographic_tie_break`
pins our choice.
"""

from __future__ import annotations

import doctest
import functools
import json
import re
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.errors import InvalidInput, PermissionDenied
from strongroom.types import Capability
from strongroom.vault import policy
from strongroom.vault.policy import (
    GRANTABLE,
    Acl,
    AclLike,
    PolicyDocument,
    RootAcl,
    Rule,
    validate_policy_name,
)

C = Capability
READ, LIST, UPDATE, DENY = C.READ, C.LIST, C.UPDATE, C.DENY


def doc(*rules: tuple[str, Sequence[str]]) -> PolicyDocument:
    """Build a document from ``(pattern, capability names)`` pairs."""
    return PolicyDocument(rules=tuple(Rule(p, frozenset(map(C, caps))) for p, caps in rules))


def acl(*policies: Sequence[tuple[str, Sequence[str]]]) -> Acl:
    """Build an ACL with one document per argument."""
    return Acl([doc(*rules) for rules in policies])


class TestModule:
    def test_exported_members(self) -> None:
        assert sorted(policy.__all__) == sorted(
            [
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
        )

    def test_public_items_are_documented(self) -> None:
        assert policy.__doc__
        for name in policy.__all__:
            obj = getattr(policy, name)
            if callable(obj):
                assert obj.__doc__, name

    def test_module_example_runs(self) -> None:
        result = doctest.testmod(policy)
        assert result.attempted > 0
        assert result.failed == 0


class TestRule:
    def test_normalises_capabilities(self) -> None:
        rule = Rule("secret/*", ["read", "list", "read"])  # type: ignore[arg-type]
        assert rule.capabilities == frozenset({READ, LIST})
        assert rule.to_dict() == {"path": "secret/*", "capabilities": ["read", "list"]}

    @pytest.mark.parametrize(
        "pattern",
        [
            "secret",
            "secret/app/db",
            "secret/+/db",
            "+",
            "*",
            "secret/*",
            "secret/app*",
            "secret/+/+/foo/*",
            "sys/policies/acl/ops",
            "auth/token/create",
        ],
    )
    def test_valid_patterns(self, pattern: str) -> None:
        assert Rule(pattern, frozenset({READ})).path == pattern

    @pytest.mark.parametrize(
        ("pattern", "why"),
        [
            ("", "empty"),
            ("/secret/app", "start with '/'"),
            ("secret//app", "empty segments"),
            ("secret/app/", "empty segments"),
            ("secret/../app", "'..'"),
            ("secret/./app", "'..'"),
            ("secret/*/app", "'*' only as its last"),
            ("secret/**", "'*' only as its last"),
            ("secret/a+b", "'+' only as a whole segment"),
            ("secret/+*", "'+*'"),
            ("secret/\napp", "control character"),
        ],
    )
    def test_invalid_patterns(self, pattern: str, why: str) -> None:
        with pytest.raises(InvalidInput, match=re.escape(why)):
            Rule(pattern, frozenset({READ}))

    def test_unknown_capability(self) -> None:
        with pytest.raises(InvalidInput, match="unknown capability 'raed'"):
            Rule("secret/*", frozenset({"raed"}))  # type: ignore[arg-type]

    def test_empty_capabilities(self) -> None:
        with pytest.raises(InvalidInput, match="must not be empty"):
            Rule("secret/*", frozenset())

    def test_is_frozen(self) -> None:
        rule = Rule("secret/*", frozenset({READ}))
        with pytest.raises(AttributeError):
            rule.path = "other"  # type: ignore[misc]


YAML_DOC = """
description: app readers
rules:
  - path: secret/app/*
    capabilities: [read, list]
  - path: "secret/app/admin"
    capabilities:
      - deny
"""
JSON_DOC = json.dumps(
    {
        "description": "app readers",
        "rules": [
            {"path": "secret/app/*", "capabilities": ["list", "read"]},
            {"path": "secret/app/admin", "capabilities": ["deny"]},
        ],
    }
)


class TestPolicyDocument:
    def test_yaml_and_json_are_equal(self) -> None:
        from_yaml = PolicyDocument.parse(YAML_DOC)
        from_json = PolicyDocument.parse(JSON_DOC)
        assert from_yaml == from_json
        assert from_yaml.description == "app readers"
        assert [r.path for r in from_yaml.rules] == ["secret/app/*", "secret/app/admin"]
        assert from_yaml.rules[0].capabilities == frozenset({READ, LIST})

    def test_bytes_input(self) -> None:
        assert PolicyDocument.parse(JSON_DOC.encode()) == PolicyDocument.parse(JSON_DOC)

    def test_round_trip_through_to_dict(self) -> None:
        parsed = PolicyDocument.parse(YAML_DOC)
        assert PolicyDocument.parse(json.dumps(parsed.to_dict())) == parsed

    def test_empty_rules_and_no_description(self) -> None:
        parsed = PolicyDocument.parse("rules: []")
        assert parsed == PolicyDocument()
        assert parsed.to_dict() == {"description": "", "rules": []}

    def test_is_frozen(self) -> None:
        parsed = PolicyDocument.parse(YAML_DOC)
        with pytest.raises(AttributeError):
            parsed.rules = ()  # type: ignore[misc]

    def test_constructor_rejects_non_rules(self) -> None:
        with pytest.raises(TypeError):
            PolicyDocument(rules=("secret/*",))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                'rules:\n  - {path: "secret/*", capabilities: [read]}\n'
                '  - {path: "secret/a", capabilities: [raed]}',
                "rules[1]: unknown capability 'raed'",
            ),
            ('{"rules": [{"path": "secret/*", "capabilities": []}]}', "rules[0]: capabilities"),
            ('{"rules": [{"path": "secret/*/x", "capabilities": ["read"]}]}', "rules[0]: path"),
            ('{"rules": [{"path": "/secret", "capabilities": ["read"]}]}', "rules[0]: path"),
            ('{"rules": [{"path": 3, "capabilities": ["read"]}]}', "rules[0]: 'path'"),
            ('{"rules": [{"path": "a", "capabilities": "read"}]}', "rules[0]: 'capabilities'"),
            ('{"rules": [{"path": "a", "capabilities": [["read"]]}]}', "rules[0]: unknown"),
            ('{"rules": [{"path": "a"}]}', "rules[0]: 'capabilities'"),
            ('{"rules": [{"path": "a", "capabilities": ["read"], "x": 1}]}', "rules[0]: unknown"),
            ('{"rules": ["secret/*"]}', "rules[0]: rule must be a mapping"),
            ('{"rules": [], "policy": {}}', "unknown key"),
            ('{"description": 5, "rules": []}', "description"),
            ("{}", "'rules' list"),
            ("rules: secret/*", "'rules' list"),
            ("", "must be a mapping"),
            ("- a\n- b", "must be a mapping"),
            ('{"rules": [}', "not valid JSON"),
            ("rules: [read\n  path: :", "not valid YAML"),
            ("rules:\n\t- x", "not valid YAML"),
            ("[" * 100_000, "nested too deeply"),
            ('{"a": ' * 100_000, "nested too deeply"),
        ],
    )
    def test_parse_errors(self, text: str, message: str) -> None:
        with pytest.raises(InvalidInput) as info:
            PolicyDocument.parse(text)
        assert message in info.value.detail
        assert "\n" not in info.value.detail

    def test_parse_error_carries_rule_index(self) -> None:
        with pytest.raises(InvalidInput) as info:
            PolicyDocument.parse('{"rules": [{"path": "a", "capabilities": ["nope"]}]}')
        assert info.value.extra == {"rule": 0}

    def test_non_utf8_bytes(self) -> None:
        with pytest.raises(InvalidInput, match="UTF-8"):
            PolicyDocument.parse(b"rules: [\xff]")

    def test_too_large(self) -> None:
        with pytest.raises(InvalidInput, match="larger than"):
            PolicyDocument.parse("#" * (2 << 20))


# The policy matrix: every pattern kind against a matching and a non-matching path.
PATTERN_CASES = [
    ("exact", "secret/app/db", "secret/app/db", "secret/app/db2"),
    ("exact", "secret/app/db", "secret/app/db", "secret/app"),
    ("plus", "secret/+/db", "secret/app/db", "secret/a/b/db"),
    ("plus", "secret/+/db", "secret/x/db", "secret/db"),
    ("star", "secret/app/*", "secret/app/x/y", "secret/app"),
    ("star", "secret/app/*", "secret/app/", "secret/apple"),
    ("partial-star", "secret/app*", "secret/apple", "secret/ap"),
    ("mixed", "secret/+/cfg/*", "secret/app/cfg/x", "secret/app/other/x"),
    ("mixed", "+/+/cfg/*", "kv/app/cfg/a/b", "kv/app/cfg"),
    ("admin", "sys/policies/acl/+", "sys/policies/acl/ops", "sys/policies/acl"),
]


def _ref_match(pattern: str, path: str) -> bool:
    """Naive reference matcher, written independently of the module under test."""

    def same_shape(pat: str, text: str) -> bool:
        pp, tt = pat.split("/"), text.split("/")
        return len(pp) == len(tt) and all(p == t or (p == "+" and t) for p, t in zip(pp, tt))

    if pattern.endswith("*"):
        return any(same_shape(pattern[:-1], path[:k]) for k in range(len(path) + 1))
    return same_shape(pattern, path)


def _ref_compare(p1: str, p2: str) -> int:
    """-1 when ``p1`` has the higher priority, by the five rules spelled out one by one."""

    def first_wildcard(p: str) -> int:
        return next((i for i, ch in enumerate(p) if ch in "+*"), len(p))

    if first_wildcard(p1) != first_wildcard(p2):  # (1) later first wildcard wins
        return -1 if first_wildcard(p1) > first_wildcard(p2) else 1
    if p1.endswith("*") != p2.endswith("*"):  # (2) no trailing glob wins
        return 1 if p1.endswith("*") else -1
    n1, n2 = p1.split("/").count("+"), p2.split("/").count("+")
    if n1 != n2:  # (3) fewer '+' segments win
        return -1 if n1 < n2 else 1
    if len(p1) != len(p2):  # (4) longer wins
        return -1 if len(p1) > len(p2) else 1
    return (p1 < p2) - (p1 > p2)  # (5) lexicographically larger wins (as Vault)


def _ref_capabilities(
    policies: Sequence[Sequence[tuple[str, frozenset[Capability]]]], path: str
) -> frozenset[Capability]:
    """Brute-force evaluation: sort every matching pattern by the priority rules."""
    matching = [(p, caps) for rules in policies for p, caps in rules if _ref_match(p, path)]
    if not matching:
        return frozenset()
    winner = sorted({p for p, _ in matching}, key=functools.cmp_to_key(_ref_compare))[0]
    union = frozenset().union(*(caps for p, caps in matching if p == winner))
    return frozenset() if DENY in union else union


SEGMENTS = st.sampled_from(["a", "b", "ab", "ba"])
CAPS = st.frozensets(st.sampled_from(list(Capability)), min_size=1, max_size=3)


@st.composite
def patterns(draw: st.DrawFn) -> str:
    """Random valid patterns over a tiny alphabet, so that they often collide."""
    segs = draw(st.lists(st.one_of(SEGMENTS, st.just("+")), max_size=3))
    tail = draw(st.sampled_from(["", "*", "/*"]))
    if not segs:
        return draw(st.sampled_from(["*", "+", "a*"]))
    if tail == "*" and segs[-1] == "+":
        tail = "/*"
    return "/".join(segs) + tail


PATHS = st.builds(
    lambda segs, slash: "/".join(segs) + slash,
    st.lists(SEGMENTS, min_size=1, max_size=4),
    st.sampled_from(["", "", "/"]),
)
RULE_SETS = st.lists(st.lists(st.tuples(patterns(), CAPS), max_size=4), max_size=3)


class TestAcl:
    @pytest.mark.parametrize("cap", list(Capability))
    @pytest.mark.parametrize(("kind", "pattern", "hit", "miss"), PATTERN_CASES)
    def test_policy_matrix(
        self, cap: Capability, kind: str, pattern: str, hit: str, miss: str
    ) -> None:
        subject = acl([(pattern, [cap])])
        expected = frozenset() if cap is DENY else frozenset({cap})
        assert subject.capabilities(hit) == expected, kind
        assert subject.capabilities(miss) == frozenset(), kind
        for other in GRANTABLE:
            assert subject.allows(hit, other) is (other == cap), (kind, other)
            assert subject.allows(miss, other) is False, (kind, other)

    def test_no_rules_grant_nothing(self) -> None:
        for subject in (Acl([]), Acl([PolicyDocument()])):
            assert subject.capabilities("secret/app/db") == frozenset()
            assert not subject.may_have_readable_under("")
            with pytest.raises(PermissionDenied):
                subject.require("secret/app/db", READ)

    @pytest.mark.parametrize(
        ("winner", "loser", "path"),
        [
            # An exact pattern beats every wildcard.
            ("secret/app/db", "secret/app/db*", "secret/app/db"),
            ("secret/app/db", "secret/+/db", "secret/app/db"),
            # (1) The later first wildcard wins, whatever the wildcard.
            ("secret/app/+", "secret/+/db", "secret/app/db"),
            ("secret/a*", "secret/+", "secret/ab"),
            ("secret/app/*", "secret/*", "secret/app/x"),
            ("secret/ab*", "secret/a*", "secret/abc"),
            # (2) Same first wildcard: not ending in '*' wins (Vault's docs: secret/+/data).
            ("secret/+/data", "secret/*", "secret/app/data"),
            ("secret/app/+", "secret/app/*", "secret/app/x"),
            # (3) Fewer '+' segments win (Vault's docs: secret/* over secret/+/+/foo/*).
            ("secret/*", "secret/+/+/foo/*", "secret/a/b/foo/x"),
            ("+/b/*", "+/+/*", "a/b/c"),
            # (4) The longer pattern wins.
            ("+/ab*", "+/a*", "x/abc"),
            ("secret/+/a*", "secret/+/*", "secret/x/ab"),
        ],
    )
    def test_priority(self, winner: str, loser: str, path: str) -> None:
        for order in ((winner, loser), (loser, winner)):
            policies = [[(p, [READ] if p == winner else [UPDATE])] for p in order]
            assert acl(*policies).capabilities(path) == frozenset({READ}), order
        assert _ref_compare(winner, loser) == -1

    def test_rule_5_lexicographic_tie_break(self) -> None:
        # Both match and tie on rules (1)-(4); the larger string wins, as in Vault.
        subject = acl([("+/ab/+", ["update"])], [("+/+/ab", ["read"])])
        assert subject.capabilities("x/ab/ab") == frozenset({UPDATE})

    def test_same_pattern_unions_across_policies(self) -> None:
        subject = acl([("secret/app/*", ["read"])], [("secret/app/*", ["list"])])
        assert subject.capabilities("secret/app/x") == frozenset({READ, LIST})

    def test_only_the_winning_pattern_counts(self) -> None:
        subject = acl([("secret/*", ["read", "update"])], [("secret/app/*", ["list"])])
        assert subject.capabilities("secret/app/x") == frozenset({LIST})
        assert subject.capabilities("secret/other") == frozenset({READ, UPDATE})

    def test_deny_at_same_pattern_in_another_policy_beats_grant(self) -> None:
        subject = acl([("secret/app/*", ["read", "sudo"])], [("secret/app/*", ["deny"])])
        assert subject.capabilities("secret/app/x") == frozenset()

    def test_deny_in_same_rule_beats_grant(self) -> None:
        assert acl([("secret/app", ["read", "deny"])]).capabilities("secret/app") == frozenset()

    def test_more_specific_deny_beats_broad_grant(self) -> None:
        subject = acl([("secret/*", ["read"])], [("secret/app/admin", ["deny"])])
        assert subject.capabilities("secret/app/admin") == frozenset()
        assert subject.allows("secret/app/db", READ)

    def test_less_specific_deny_does_not_override_specific_grant(self) -> None:
        # Documented choice (Acl docstring): only the winning pattern counts.
        subject = acl([("secret/*", ["deny"])], [("secret/app/db", ["read"])])
        assert subject.allows("secret/app/db", READ)
        assert not subject.allows("secret/app/other", READ)

    def test_require(self) -> None:
        subject = acl([("secret/app/*", ["read"])], [("secret/app/hidden", ["deny"])])
        subject.require("secret/app/db", READ)
        messages = set()
        for path in ("secret/app/hidden", "secret/elsewhere", "secret/app/db"):
            cap = UPDATE if path == "secret/app/db" else READ
            with pytest.raises(PermissionDenied) as info:
                subject.require(path, cap)
            assert path not in info.value.detail
            messages.add(info.value.detail.replace(cap.value, "CAP"))
        assert len(messages) == 1

    def test_asking_about_deny_is_a_bug(self) -> None:
        with pytest.raises(ValueError, match="deny"):
            acl([("a", ["deny"])]).allows("a", DENY)

    @pytest.mark.parametrize(
        "path", ["", "/", "/secret/a", "secret//a", "secret/../a", "secret/./a", "a\x00b"]
    )
    def test_invalid_paths(self, path: str) -> None:
        with pytest.raises(InvalidInput):
            acl([("*", ["read"])]).capabilities(path)

    def test_results_are_cached_and_stable(self) -> None:
        subject = acl([("secret/+/db", ["read"])])
        first = subject.capabilities("secret/app/db")
        assert subject.capabilities("secret/app/db") is first
        for i in range(10_000):
            assert subject.allows(f"secret/app{i}/db", READ)
        assert Acl([doc(("a", ["read"]))], cache_size=0).allows("a", READ)

    def test_rejects_non_documents(self) -> None:
        with pytest.raises(TypeError):
            Acl(["rules: []"])  # type: ignore[list-item]

    @pytest.mark.parametrize(
        ("rules", "prefix", "expected"),
        [
            ([("secret/app/*", ["read"])], "secret", True),
            ([("secret/app/*", ["read"])], "secret/app", True),
            ([("secret/app/*", ["read"])], "secret/app/", True),
            ([("secret/app/*", ["read"])], "secret/other", False),
            ([("secret/app/*", ["list"])], "secret/app", False),
            ([("secret/app", ["read"])], "secret/app", False),
            ([("secret/app", ["read"])], "secret", True),
            ([("secret/app*", ["read"])], "secret/app", True),
            ([("secret/app*", ["read"])], "secret/ap", False),
            ([("secret/+/db", ["read"])], "secret/app", True),
            ([("secret/+/db", ["read"])], "kv/app", False),
            ([("+/+/db", ["read"])], "kv", True),
            ([("*", ["read"])], "anything/at/all", True),
            ([("secret/app/*", ["read"]), ("secret/*", ["deny"])], "secret/app", True),
            ([("secret/app/*", ["read"]), ("secret/app/*", ["deny"])], "secret/app", False),
            ([("secret/app/x", ["read"]), ("secret/app/*", ["deny"])], "secret/app", True),
            ([("secret/*", ["read"]), ("secret/app/*", ["deny"])], "secret/app", False),
            ([("secret/*", ["read"]), ("secret/app/*", ["list"])], "secret/app", False),
            ([("secret/*", ["read"]), ("secret/app/*", ["deny"])], "secret", True),
            ([("secret/*", ["read"]), ("secret/+/*", ["deny"])], "secret/app", True),
            ([("secret/+", ["read"]), ("secret/+/*", ["deny"])], "secret", True),
            ([("secret/+/*", ["read"]), ("secret/app/*", ["deny"])], "secret/app", False),
            ([], "", False),
            ([("a", ["read"])], "", True),
        ],
    )
    def test_may_have_readable_under(
        self, rules: list[tuple[str, list[str]]], prefix: str, expected: bool
    ) -> None:
        assert Acl([doc(*rules)]).may_have_readable_under(prefix) is expected

    @given(rule_sets=RULE_SETS, path=PATHS)
    def test_agrees_with_reference_implementation(
        self, rule_sets: list[list[tuple[str, frozenset[Capability]]]], path: str
    ) -> None:
        subject = Acl([PolicyDocument(tuple(Rule(p, c) for p, c in rs)) for rs in rule_sets])
        expected = _ref_capabilities(rule_sets, path)
        assert subject.capabilities(path) == expected
        for cap in GRANTABLE:
            assert subject.allows(path, cap) is (cap in expected)

    @given(rule_sets=RULE_SETS, path=PATHS.map(lambda p: p.rstrip("/")))
    def test_exact_deny_never_adds_capabilities(
        self, rule_sets: list[list[tuple[str, frozenset[Capability]]]], path: str
    ) -> None:
        docs = [PolicyDocument(tuple(Rule(p, c) for p, c in rs)) for rs in rule_sets]
        before = Acl(docs).capabilities(path)
        after = Acl([*docs, doc((path, ["deny"]))]).capabilities(path)
        assert after <= before
        assert after == frozenset()

    @given(rule_sets=RULE_SETS, folder=PATHS, leaf=PATHS)
    def test_may_have_readable_under_is_conservative(
        self, rule_sets: list[list[tuple[str, frozenset[Capability]]]], folder: str, leaf: str
    ) -> None:
        subject = Acl([PolicyDocument(tuple(Rule(p, c) for p, c in rs)) for rs in rule_sets])
        path = folder.rstrip("/") + "/" + leaf
        if subject.allows(path, READ):
            assert subject.may_have_readable_under(folder)


class TestRootAcl:
    def test_allows_everything(self) -> None:
        root = RootAcl()
        assert root.capabilities("sys/keys/rotate") == GRANTABLE
        assert DENY not in GRANTABLE
        for cap in GRANTABLE:
            assert root.allows("secret/any/path", cap)
            root.require("auth/token/create", cap)
        assert root.may_have_readable_under("secret")

    def test_still_validates(self) -> None:
        with pytest.raises(InvalidInput):
            RootAcl().capabilities("/secret")
        with pytest.raises(ValueError, match="deny"):
            RootAcl().allows("secret", DENY)


class TestAclLike:
    def test_both_acls_satisfy_the_protocol(self) -> None:
        def check(subject: AclLike) -> bool:
            return subject.allows("secret/a", READ)

        assert check(RootAcl())
        assert not check(Acl([]))
        assert isinstance(RootAcl(), AclLike)
        assert isinstance(Acl([]), AclLike)


class TestValidatePolicyName:
    @pytest.mark.parametrize("name", ["ops", "app-readers", "team_1", "a", "x" * 128])
    def test_valid(self, name: str) -> None:
        assert validate_policy_name(name) == name

    @pytest.mark.parametrize(
        "name", ["", "Ops", "a b", "a/b", "a.b", "x" * 129, "ops\n", "ünïcode", "root"]
    )
    def test_invalid(self, name: str) -> None:
        with pytest.raises(InvalidInput):
            validate_policy_name(name)

    def test_root_is_reserved(self) -> None:
        with pytest.raises(InvalidInput, match="reserved"):
            validate_policy_name("root")
