"""``redaction_vs_presidio``: log redaction recall, precision and throughput against Presidio.

Corpus (generated, seeded, not timed): log lines shaped like a server's
(timestamp, level, logger, key=value pairs, request ids, durations, route
templates), each holding at most one sensitive value of a known kind at a
known place, or none:

* structured personal data: e-mail, payment card (Luhn-valid, with and
  without separators), IBAN (mod-97-valid, several countries, grouped or
  not), US SSN (valid ranges), French NIR (valid key, Corsica included),
  phone (international form), IPv4 and IPv6 client address;
* secrets: Strongroom token, bearer credential, JWT, AWS access key id,
  GitHub token, URL password, PEM private key;
* negatives: lines with look-alikes that are not sensitive (card-length
  numbers failing Luhn, IBAN-like strings failing mod 97, SSN-like strings in
  invalid ranges, version strings, timestamps, metric names, accessors).

A value counts as *caught* when it no longer appears in the output (for
Presidio: when a detected span covers it). A *false alarm* is any change
outside the value's place (for Presidio: any detected span outside it), on
positive and negative lines alike. Recall per kind = caught / lines of that
kind; precision = caught / (caught + false alarms).

Peer: Microsoft Presidio's ``AnalyzerEngine`` with its predefined pattern
recognizers and a blank spaCy English pipeline (no model to download, so
no NER: pattern recognizers only, as in the issue), offline
(``tldextract`` told not to fetch the public suffix list). Presidio is
timed on detection only (``analyze``), Strongroom on detection and
replacement (``Redactor.redact``): in Presidio's favour. Both run on the
same lines in the same process, one after the other, best of three.

Goals: recall >= 0.99 on every structured kind, and >= 10x Presidio's
throughput.

Example::

    >>> NAME
    'redaction_vs_presidio'
"""

from __future__ import annotations

import random
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.stats import rounded
from strongroom.observability.redaction import Redactor, luhn_valid

__all__ = ["GOAL_RATIO", "GOAL_RECALL", "NAME", "STRUCTURED", "run"]

NAME = "redaction_vs_presidio"
GOAL_RECALL = 0.99
GOAL_RATIO = 10.0
STRUCTURED = ("email", "card", "iban", "ssn", "nir", "phone", "ip")
"""The kinds the recall goal covers."""


@dataclass(frozen=True, slots=True)
class Line:
    """One corpus line: text before the value, the value, text after; kind None for negatives."""

    prefix: str
    value: str
    suffix: str
    kind: str | None

    @property
    def text(self) -> str:
        """The whole line."""
        return self.prefix + self.value + self.suffix


def _luhn_card(rng: random.Random) -> str:
    head = rng.choice(["4", "51", "52", "53", "54", "55", "37", "6011"])
    length = 15 if head == "37" else 16
    body = head + "".join(rng.choice(string.digits) for _ in range(length - len(head) - 1))
    digit = next(d for d in string.digits if luhn_valid(body + d))
    card = body + digit
    sep = rng.choice(["", " ", "-"])
    return sep.join(card[i : i + 4] for i in range(0, len(card), 4)) if sep else card


def _iban(rng: random.Random) -> str:
    # BBAN lengths; GB and NL are 4 letters then digits (built below).
    country, n = rng.choice([("DE", 18), ("FR", 23), ("GB", 18), ("ES", 20), ("NL", 14)])
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
            rng.choice(string.digits) for _ in range(14)
        )
    elif country == "NL":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
            rng.choice(string.digits) for _ in range(10)
        )
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(n))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    iban = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def _ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _nir(rng: random.Random) -> str:
    dept = rng.choice([f"{rng.randint(1, 95):02d}", "2A", "2B"])
    body = (
        f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{dept}"
        f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    )
    numeric = body.replace("2A", "19") if dept == "2A" else body.replace("2B", "18")
    nir = f"{body}{97 - int(numeric) % 97:02d}"
    if rng.random() < 0.5:
        return f"{nir[0]} {nir[1:3]} {nir[3:5]} {nir[5:7]} {nir[7:10]} {nir[10:13]} {nir[13:]}"
    return nir


def _phone(rng: random.Random) -> str:
    return rng.choice(
        [
            f"+1{rng.randint(201, 989)}{rng.randint(2000000, 9999999)}",
            f"+33 6 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
            f"{rng.randint(10, 99)}",
            f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            f"+49-30-{rng.randint(1000000, 9999999)}",
        ]
    )


def _email(rng: random.Random) -> str:
    user = rng.choice(["jane.doe", "j.smith+tag", "ops", "marie_curie", "x9"])
    dom = rng.choice(["example.org", "mail.example.co.uk", "hospital.fr", "corp.io"])
    return f"{user}{rng.randint(1, 999)}@{dom}"


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.7:
        octets = (
            rng.randint(11, 223),
            rng.randint(0, 255),
            rng.randint(0, 255),
            rng.randint(1, 254),
        )
        return ".".join(map(str, octets))
    return f"2001:db8:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"


def _b62(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


_SECRETS: dict[str, Callable[[random.Random], str]] = {
    "token": lambda r: "strongroom_v1_" + _b62(r, 49),
    "bearer": lambda r: "Bearer " + _b62(r, 32),
    "jwt": lambda r: "eyJhbGciOiJIUzI1NiJ9." + _b62(r, 40) + "." + _b62(r, 43),
    "aws-key": lambda r: (
        "AKIA" + "".join(r.choice(string.ascii_uppercase + "234567") for _ in range(16))
    ),
    "github": lambda r: "ghp_" + _b62(r, 36),
    "url-password": lambda r: "s3cr3t" + _b62(r, 10),
    "private-key": lambda r: (
        "-----BEGIN PRIVATE KEY-----\\n" + _b62(r, 64) + "\\n-----END PRIVATE KEY-----"
    ),
}
_PERSONAL: dict[str, Callable[[random.Random], str]] = {
    "email": _email,
    "card": _luhn_card,
    "iban": _iban,
    "ssn": _ssn,
    "nir": _nir,
    "phone": _phone,
    "ip": _ip,
}


def _negative(rng: random.Random) -> str:
    card = _luhn_card(rng).replace(" ", "").replace("-", "")
    bad_card = card[:-1] + str((int(card[-1]) + 1) % 10)
    return rng.choice(
        [
            bad_card,
            f"DE00{rng.randint(10**17, 10**18 - 1)}",
            f"000-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            f"v{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 99)}",
            f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}",
            "strongroom_http_requests_total",
            "acc_" + _b62(rng, 22),
            f"{rng.randint(1000, 99999)}",
            f"order-{rng.randint(10**9, 10**10)}",
        ]
    )


def corpus(n: int, seed: int = 20261201) -> list[Line]:
    """``n`` labelled lines: a third personal data, a sixth secrets, the rest negatives."""
    rng = random.Random(seed)
    out: list[Line] = []
    for i in range(n):
        hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        ts = f"2026-11-30T{hh:02d}:{mm:02d}:{ss:02d}Z"
        rid = _b62(rng, 16)
        head = f'{ts} INFO strongroom.api request_id={rid} route="/v1/{{mount}}/data/{{path}}" '
        tail = f" status=200 duration_ms={rng.randint(1, 900)}.{rng.randint(0, 999):03d}"
        pick = i % 6
        if pick in (0, 1):
            kind = rng.choice(list(_PERSONAL))
            value = _PERSONAL[kind](rng)
            field = {"ip": "client=", "email": "user=", "phone": "contact="}.get(kind, "note=")
            out.append(Line(head + field, value, tail, kind))
        elif pick == 2:
            kind = rng.choice(list(_SECRETS))
            value = _SECRETS[kind](rng)
            if kind == "url-password":
                out.append(
                    Line(head + "dsn=postgresql://app:", value, "@db:5432/vault" + tail, kind)
                )
            elif kind == "bearer":
                out.append(Line(head + "header=Authorization: Bearer ", value[7:], tail, kind))
            else:
                out.append(Line(head + "leaked=", value, tail, kind))
        else:
            out.append(Line(head + "value=", _negative(rng), tail, None))
    return out


def _score(
    lines: list[Line], caught: Callable[[Line, int], bool], alarms: Callable[[Line, int], int]
) -> dict[str, Any]:
    per_kind: dict[str, list[int]] = {}
    false_alarms = 0
    tp = 0
    for i, line in enumerate(lines):
        false_alarms += alarms(line, i)
        if line.kind is None:
            continue
        hit = caught(line, i)
        tp += hit
        per_kind.setdefault(line.kind, [0, 0])
        per_kind[line.kind][0] += hit
        per_kind[line.kind][1] += 1
    recall = {k: rounded(c / n) for k, (c, n) in sorted(per_kind.items())}
    return {
        "recall_by_kind": recall,
        "precision": rounded(tp / (tp + false_alarms)) if tp + false_alarms else None,
        "false_alarms": false_alarms,
        "caught": tp,
        "positives": sum(n for _, n in per_kind.values()),
    }


def _ours(lines: list[Line]) -> tuple[dict[str, Any], float]:
    redactor = Redactor(ip_key=b"bench" * 8)
    texts = [line.text for line in lines]
    best = float("inf")
    outputs: list[str] = []
    for _ in range(3):
        start = time.perf_counter()
        outputs = [redactor.redact(t) for t in texts]
        best = min(best, time.perf_counter() - start)

    def caught(line: Line, i: int) -> bool:
        return line.value not in outputs[i]

    def alarms(line: Line, i: int) -> int:
        out = outputs[i]
        if line.kind is None:
            return int(out != line.text)
        return int(not (out.startswith(line.prefix) and out.endswith(line.suffix)))

    return _score(lines, caught, alarms), best


def _presidio() -> Any:
    """Presidio's analyzer on a blank spaCy pipeline, offline."""
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # Offline: the bundled public suffix snapshot, no fetch.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())

    class BlankEngine(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]

    engine = BlankEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def _peer(lines: list[Line]) -> tuple[dict[str, Any], float, str]:
    from importlib.metadata import version

    analyzer = _presidio()
    texts = [line.text for line in lines]
    best = float("inf")
    results: list[list[Any]] = []
    for _ in range(3):
        start = time.perf_counter()
        results = [analyzer.analyze(text=t, language="en") for t in texts]
        best = min(best, time.perf_counter() - start)

    def caught(line: Line, i: int) -> bool:
        lo, hi = len(line.prefix), len(line.prefix) + len(line.value)
        return any(r.start <= lo + 1 and r.end >= hi - 1 for r in results[i])

    def alarms(line: Line, i: int) -> int:
        lo, hi = len(line.prefix), len(line.prefix) + len(line.value)
        if line.kind is None:
            return len(results[i])
        return sum(1 for r in results[i] if r.end <= lo or r.start >= hi)

    return _score(lines, caught, alarms), best, version("presidio-analyzer")


def run(*, quick: bool) -> dict[str, Any]:
    """Run the benchmark and return its JSON result."""
    n = 3_000 if quick else 30_000
    lines = corpus(n)
    print(f"  corpus: {n} lines", file=sys.stderr)
    ours, ours_s = _ours(lines)
    print(f"  strongroom: {n / ours_s:,.0f} lines/s", file=sys.stderr)
    result: dict[str, Any] = {
        "description": (
            "Log redaction on a generated, labelled corpus: recall per kind, precision, and "
            "throughput, Strongroom's Redactor against Presidio's pattern recognizers (blank "
            "spaCy pipeline, offline) on the same lines."
        ),
        "lines": n,
        "strongroom": {**ours, "seconds": rounded(ours_s), "lines_per_second": rounded(n / ours_s)},
    }
    structured = [ours["recall_by_kind"].get(k, 0.0) for k in STRUCTURED]
    recall_ok = all(r is not None and r >= GOAL_RECALL for r in structured)
    try:
        peer, peer_s, version = _peer(lines)
    except Exception as exc:
        result["presidio"] = {"available": False, "error": f"{type(exc).__name__}: {exc}"}
        result["goal"] = f"recall >= {GOAL_RECALL} on {', '.join(STRUCTURED)}"
        result["goal_met"] = recall_ok
        return result
    print(f"  presidio {version}: {n / peer_s:,.0f} lines/s", file=sys.stderr)
    ratio = peer_s / ours_s
    result["presidio"] = {
        **peer,
        "version": version,
        "seconds": rounded(peer_s),
        "lines_per_second": rounded(n / peer_s),
    }
    result["throughput_ratio"] = rounded(ratio)
    result["goal"] = (
        f"recall >= {GOAL_RECALL} on {', '.join(STRUCTURED)} and throughput >= "
        f"{GOAL_RATIO}x Presidio's"
    )
    result["goal_met"] = recall_ok and ratio >= GOAL_RATIO
    return result
