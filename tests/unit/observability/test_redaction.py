"""The redactor: every kind it knows, checksums that keep ordinary numbers, logs end to end."""

from __future__ import annotations

import json
import logging
import string

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from strongroom.observability.logging import configure_logging
from strongroom.observability.redaction import Redactor, iban_valid, luhn_valid, nir_valid

R = Redactor(ip_key=b"k" * 32, literals=["strongroom_dev_root_token_value"])


def _luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        if luhn_valid(prefix + d):
            return prefix + d
    raise AssertionError("unreachable")


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


def _nir(body: str) -> str:
    return f"{body}{97 - int(body) % 97:02d}"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("strongroom_v1_" + "Ab3" * 15, "token"),
        ("strongroom_dev_root_token_value", "token"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "jwt"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", "private-key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----",
            "private-key",
        ),
        ("AKIAIOSFODNN7EXAMPLE", "aws-key"),
        ("ghp_" + "x" * 36, "github"),
        ("github_pat_" + "y" * 40, "github"),
        ("jane.doe+tag@example.co.uk", "email"),
        ("FR76 3000 6000 0112 3456 7890 189", "iban"),
        ("GB82WEST12345698765432", "iban"),
        ("4111 1111 1111 1111", "card"),
        ("5500-0000-0000-0004", "card"),
        ("378282246310005", "card"),
        ("123-45-6789", "ssn"),
        (_nir("1850578006084"), "nir"),
        ("2 69 05 2A 123 456 " + _nir("2690519123456")[-2:], "nir"),
        ("+33 6 12 34 56 78", "phone"),
        ("+14155552671", "phone"),
    ],
)
def test_each_kind_is_redacted(text: str, kind: str) -> None:
    out = R.redact(f"before {text} after")
    assert out == f"before [redacted:{kind}] after", out


def test_corsica_nir_key_uses_the_insee_substitution() -> None:
    assert nir_valid("2 69 05 2A 123 456 " + f"{97 - int('2690519123456') % 97:02d}")


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "FR76 3000 6000 0112 3456 7890 188",  # mod-97 fails
        "000-12-3456",  # no SSN starts with 000
        "1 85 05 78 006 084 00",  # NIR key wrong
        "version 12345, 2026-12-01T13:21:53Z, 12:30:45, 3.14159",
        "strongroom_http_requests_total and acc_3E7XLnyBWM52P88eYMHGHt",
    ],
)
def test_ordinary_values_stay(text: str) -> None:
    assert R.redact(text) == text


def test_labelled_secrets_keep_their_label() -> None:
    assert R.redact("Authorization: Bearer abcdefgh.ijkl") == (
        "Authorization: Bearer [redacted:bearer]"
    )
    key = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert R.redact(key) == "aws_secret_access_key=[redacted:aws-key]"


def test_iban_rules_beyond_mod_97() -> None:
    # Mod 97 alone passes one random number in 97; the registry does better.
    assert not iban_valid("DE00853914235955990625")  # check digits 00 never occur
    assert not iban_valid("DE893704004405320130001")  # Germany's IBANs are 22 long
    assert iban_valid("DE89 3704 0044 0532 0130 00")


def test_url_password_only() -> None:
    assert R.redact("postgresql://app:s3cr3t@db:5432/x") == "postgresql://app:[redacted]@db:5432/x"


def test_addresses_become_keyed_hashes_that_still_correlate() -> None:
    a, b = R.redact("from 10.1.2.3"), R.redact("again 10.1.2.3")
    assert "10.1.2.3" not in a and a.split()[-1] == b.split()[-1]
    assert a.split()[-1] != Redactor(ip_key=b"x" * 32).redact("10.1.2.3")
    assert "2001:db8::1" not in R.redact("v6 2001:db8::1")
    # Bind addresses are configuration, not somebody's data.
    assert R.redact("listening on 0.0.0.0:8200 and 127.0.0.1") == (
        "listening on 0.0.0.0:8200 and 127.0.0.1"
    )


@given(st.text(alphabet=string.digits, min_size=12, max_size=18))
def test_every_luhn_valid_card_is_redacted(prefix: str) -> None:
    card = _luhn_complete("4" + prefix)[:19]
    if luhn_valid(card):
        assert "[redacted:" in R.redact(f"pay {card} now")


@given(
    st.sampled_from([("DE", 18), ("FR", 23), ("ES", 20), ("CH", 17), ("XX", 20)]).flatmap(
        lambda c: st.tuples(
            st.just(c[0]), st.text(alphabet=string.digits, min_size=c[1], max_size=c[1])
        )
    )
)
def test_every_valid_iban_is_redacted(country_bban: tuple[str, str]) -> None:
    iban = _iban(*country_bban)
    assert iban_valid(iban)
    assert R.redact(f"to {iban}.") == "to [redacted:iban]."


@given(st.from_regex(r"[12][0-9]{2}(0[1-9]|1[0-2])[0-9]{2}[0-9]{6}", fullmatch=True))
def test_every_valid_nir_is_redacted(body: str) -> None:
    nir = _nir(body)
    assert "[redacted:" in R.redact(f"nir {nir}")


@given(st.text(alphabet=string.ascii_letters + " .,;", max_size=200))
def test_text_without_digits_or_at_signs_is_unchanged(text: str) -> None:
    assert R.redact(text) == text


def test_nested_values_are_redacted() -> None:
    value = {"a": ["x jane@example.org", ("4111111111111111",)], "n": 3}
    assert R.redact_value(value) == {"a": ["x [redacted:email]", ("[redacted:card]",)], "n": 3}


def test_log_lines_and_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="json", level="info", secrets=["strongroom_dev_root_token_value"])
    try:
        log = logging.getLogger("strongroom.test")
        log.warning("user %s paid with %s", "jane@example.org", "4111 1111 1111 1111")
        try:
            raise ValueError("token strongroom_dev_root_token_value leaked")
        except ValueError:
            log.exception("boom")
        with structlog.contextvars.bound_contextvars(request_id="abc123"):
            structlog.get_logger("strongroom.test").info("db", url="postgresql://u:pw12@h/db")
        err = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    text = json.dumps(lines)
    for leaked in ("jane@example.org", "4111 1111", "strongroom_dev_root_token_value", "pw12"):
        assert leaked not in text
    assert any("Traceback" in line.get("exception", "") for line in lines)
    assert any(line.get("request_id") == "abc123" for line in lines)


def _ungated(r: Redactor, text: str) -> str:
    """Every detector on every line: what the gates must never change."""
    from strongroom.observability import redaction as mod

    for pattern, replace in mod._DETECTORS:
        text = pattern.sub(lambda m, f=replace: f(m.group(0)), text)
    return mod._IPV6.sub(r._ip, mod._IPV4.sub(r._ip, text))


@given(
    st.lists(
        st.sampled_from(
            [
                "4111 1111 1111 1111",
                "jane@example.org",
                "+33 6 12 34 56 78",
                "123-45-6789",
                "GB82WEST12345698765432",
                "10.0.0.7",
                "2001:db8::2",
                "eyJabcde.fghij.kl",
                "ghp_" + "a" * 36,
                "AKIAIOSFODNN7EXAMPLE",
                "postgresql://u:p@h",
                "Bearer abcdefghij",
                "1 85 05 78 006 084 " + f"{97 - 1850578006084 % 97:02d}",
                "x",
                "through the night",
                " ",
                "-",
                ":",
                "+",
                "7",
                "12",
                "2026-12-01T10:00:00Z",
                "@",
                "://",
            ]
        ),
        max_size=12,
    )
)
def test_the_cheap_gates_never_change_a_result(parts: list[str]) -> None:
    text = "".join(parts)
    assert R.redact(text) == _ungated(R, text)
