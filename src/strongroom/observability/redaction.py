"""Redaction: secrets and personal data out of every log line.

Strongroom does not log secrets on purpose; this is the net under what it,
its libraries or a future bug might log anyway. Each detector is a regular
expression, and where a format has a checksum the match must pass it too,
so that ordinary numbers are left alone:

=============  ==============================================================
kind           what
=============  ==============================================================
``token``      Strongroom tokens (``strongroom_v1_…``), and literal secrets the
               server was given (the dev root token)
``bearer``     ``Bearer …`` credentials
``jwt``        JSON Web Tokens (three base64url parts, the first ``eyJ``)
``private-key``  PEM private keys, whole blocks
``aws-key``    AWS access key ids (``AKIA…``/``ASIA…``) and, after a
               ``aws_secret_access_key`` label, secret keys
``github``     GitHub tokens (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
               ``github_pat_``)
``url-password``  the password in ``scheme://user:password@host``
``email``      e-mail addresses
``iban``       IBANs, mod-97 checked (ISO 13616)
``card``       payment card numbers, 13 to 19 digits, Luhn checked
``nir``        French social security numbers (NIR) with their key, checked
``ssn``        US social security numbers (``AAA-GG-SSSS``, valid ranges)
``phone``      phone numbers in international form (``+`` and 8 to 15 digits)
``ip``         IPv4 and IPv6 addresses (but loopback and unspecified ones),
               replaced by a keyed hash so that lines about one client still
               correlate
=============  ==============================================================

Each match becomes ``[redacted:<kind>]`` (addresses ``ip:<hash>``).

Example::

    >>> r = Redactor(ip_key=b"k" * 32)
    >>> r.redact("card 4111 1111 1111 1111 for jane@example.org")
    'card [redacted:card] for [redacted:email]'
    >>> r.redact("order 1234 5678 9012 3456")  # fails Luhn: not a card
    'order 1234 5678 9012 3456'
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final

__all__ = ["Redactor", "iban_valid", "luhn_valid", "nir_valid", "redaction_processor"]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a card number, digits only."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# IBAN lengths by country (SWIFT IBAN registry); others: 15 to 34.
_IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30,
    "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_valid(text: str) -> bool:
    """ISO 13616: the country's length, check digits 02 to 98, and the mod-97 check."""
    s = text.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(s[:2])
    if not (len(s) == expected if expected else 15 <= len(s) <= 34):
        return False
    if not s[2:4].isdigit() or not 2 <= int(s[2:4]) <= 98:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def nir_valid(text: str) -> bool:
    """French NIR: 13 characters and a 2-digit key = 97 - (number mod 97); Corsica 2A/2B."""
    s = text.replace(" ", "").upper()
    if len(s) != 15:
        return False
    body, key = s[:13], s[13:]
    # Corsica: 2A counts as 19, 2B as 18 (INSEE).
    body = body.replace("2A", "19", 1) if body[5:7] == "2A" else body
    body = body.replace("2B", "18", 1) if body[5:7] == "2B" else body
    if not body.isdigit() or not key.isdigit():
        return False
    return 97 - int(body) % 97 == int(key)


def _ssn_valid(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _iban(text: str) -> str:
    """Redact the longest valid IBAN at the start of ``text`` (a match may run into a word)."""
    groups = text.split(" ")
    while groups:
        candidate = " ".join(groups)
        if iban_valid(candidate):
            rest = text[len(candidate) :]
            return "[redacted:iban]" + rest
        groups.pop()
    return text


def _checked(kind: str, check: Callable[[str], bool]) -> Callable[[str], str]:
    return lambda text: f"[redacted:{kind}]" if check(text) else text


def _fixed(kind: str) -> Callable[[str], str]:
    return lambda _text: f"[redacted:{kind}]"


def _url_password(text: str) -> str:
    return text.split(":", 1)[0] + ":[redacted]"


_SEP = r"[ -]?"
# Order matters: whole blocks and prefixed tokens first, then the formats
# with checksums (a NIR may also pass Luhn; it is tried before cards).
_DETECTORS: Final[list[tuple[re.Pattern[str], Callable[[str], str]]]] = [
    (
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?"
            r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
            re.S,
        ),
        _fixed("private-key"),
    ),
    (re.compile(r"strongroom_v1_[0-9A-Za-z]{20,}"), _fixed("token")),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), _fixed("jwt")),
    (re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"), _fixed("bearer")),
    (
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
        _fixed("github"),
    ),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), _fixed("aws-key")),
    (
        re.compile(r"(?i)(?<=aws_secret_access_key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}"),
        lambda _t: "=[redacted:aws-key]",
    ),
    (re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"), _url_password),
    (re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), _fixed("email")),
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), _iban),
    (
        re.compile(
            rf"\b[12]{_SEP}\d{{2}}{_SEP}\d{{2}}{_SEP}(?:\d{{2}}|2[AB]){_SEP}\d{{3}}{_SEP}"
            rf"\d{{3}}{_SEP}\d{{2}}\b"
        ),
        _checked("nir", lambda m: nir_valid(m.replace("-", " "))),
    ),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _checked("ssn", _ssn_valid)),
    (
        re.compile(r"\b\d(?:[ -]?\d){12,18}\b"),
        _checked("card", lambda m: luhn_valid(re.sub(r"\D", "", m))),
    ),
    (re.compile(r"(?<![\w+])\+[1-9](?:[ .-]?\d){7,14}\b"), _fixed("phone")),
]
# One necessary condition per detector above, in the same order: a substring
# the match must contain, or a count of digits it must have.
_GATES: Final[list[Callable[[str, int], bool]]] = [
    lambda t, _d: "PRIVATE KEY" in t,
    lambda t, _d: "strongroom_v1_" in t,
    lambda t, _d: "eyJ" in t,
    lambda t, _d: "earer" in t or "EARER" in t,
    lambda t, _d: "gh" in t or "github_pat_" in t,
    lambda t, _d: "AKIA" in t or "ASIA" in t,
    lambda t, _d: "ccess_key" in t or "CCESS_KEY" in t,
    lambda t, _d: "://" in t,
    lambda t, _d: "@" in t,
    lambda _t, d: d >= 6,
    lambda _t, d: d >= 11,
    lambda t, d: d >= 9 and "-" in t,
    lambda _t, d: d >= 13,
    lambda t, d: d >= 8 and "+" in t,
]
# What every gate above (and the address patterns below) needs at least one
# of: a text with none of these is returned as it is, with one search.
_ANY_GATE: Final = re.compile(
    r"[0-9:@+]|PRIVATE KEY|strongroom_v1_|eyJ|earer|EARER|gh|github_pat_|AKIA|ASIA|ccess_key"
    r"|CCESS_KEY"
)
_IPV4: Final = re.compile(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b")
# Candidates only (``::`` compression makes a tight pattern unreadable);
# ipaddress decides, so "12:30:45" stays.
_IPV6: Final = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")


def _applying(replace: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
    return lambda m: replace(m.group(0))


class Redactor:
    """Replace secrets and personal data in text (see the module docstring)."""

    def __init__(self, *, ip_key: bytes | None = None, literals: Iterable[str] = ()) -> None:
        self._ip_key = ip_key or secrets.token_bytes(32)
        lits = sorted({s for s in literals if s and len(s) >= 8}, key=len, reverse=True)
        self._literals = re.compile("|".join(re.escape(s) for s in lits)) if lits else None

    def _ip(self, m: re.Match[str]) -> str:
        text = m.group(0)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return text
        if address.is_loopback or address.is_unspecified:
            return text  # a bind address, not a client: nobody's personal data
        digest = hmac.new(self._ip_key, text.encode(), hashlib.sha256).hexdigest()[:16]
        return f"ip:{digest}"

    def redact(self, text: str) -> str:
        """``text`` with every detected secret or personal value replaced."""
        if self._literals is not None:
            text = self._literals.sub("[redacted:token]", text)
        if _ANY_GATE.search(text) is None:
            return text
        digits = sum(map(text.count, "0123456789"))
        for (pattern, replace), gate in zip(_DETECTORS, _GATES, strict=True):
            # A cheap necessary condition first: most lines hold no '@', no
            # '+', no long digit run, and skip most expressions entirely.
            if gate(text, digits):
                text = pattern.sub(_applying(replace), text)
        if digits >= 4 and "." in text:
            text = _IPV4.sub(self._ip, text)
        if ":" in text:
            text = _IPV6.sub(self._ip, text)
        return text

    def redact_value(self, value: Any) -> Any:
        """Redact strings inside ``value`` (nested dicts, lists and tuples too)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.redact_value(v) for v in value)
        return value


def redaction_processor(
    redactor: Redactor,
) -> Callable[[Any, str, MutableMapping[str, Any]], Mapping[str, Any]]:
    """A structlog processor redacting every value of the event dict (run it last)."""

    def process(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        return {k: redactor.redact_value(v) for k, v in event.items()}

    return process
