"""The catalogue of controls: one registry line per control, grouped by framework.

Adding a control is a function (in the framework's module) that judges
:class:`~strongroom.compliance.facts.Facts`, and one line in :data:`CATALOGUE`.

Example::

    >>> [c.control_id for c in select("euaiact")]
    ['euaiact-12']
    >>> select("nist")
    Traceback (most recent call last):
    ...
    strongroom.errors.InvalidInput: framework must be one of hipaa, gdpr, sox, pci, euaiact, all
"""

from __future__ import annotations

import enum

from strongroom.compliance import euaiact, gdpr, hipaa, pci, sox
from strongroom.compliance.control import Control
from strongroom.errors import InvalidInput

__all__ = ["CATALOGUE", "Framework", "select"]


class Framework(enum.StrEnum):
    """The frameworks the catalogue covers."""

    HIPAA = "hipaa"
    GDPR = "gdpr"
    SOX = "sox"
    PCI = "pci"
    EUAIACT = "euaiact"


_H, _G, _S, _P, _E = (str(f) for f in Framework)

CATALOGUE: tuple[Control, ...] = (
    Control("hipaa-164.312(a)(1)", _H, "Access control",
            "Allow access only to persons or software granted access rights; unique user "
            "identification, emergency access, automatic logoff.", hipaa.access_control),
    Control("hipaa-164.312(a)(2)(iv)", _H, "Encryption and decryption",
            "A mechanism to encrypt and decrypt ePHI.", hipaa.encryption),
    Control("hipaa-164.312(b)", _H, "Audit controls",
            "Mechanisms that record and examine activity in systems that contain ePHI.",
            hipaa.audit_controls),
    Control("hipaa-164.312(c)(1)", _H, "Integrity",
            "Protect ePHI from improper alteration or destruction; corroborate that it was "
            "not altered.", hipaa.integrity),
    Control("hipaa-164.312(d)", _H, "Person or entity authentication",
            "Verify that a person or entity seeking access is the one claimed.",
            hipaa.authentication),
    Control("hipaa-164.312(e)(1)", _H, "Transmission security",
            "Guard against unauthorized access to ePHI transmitted over a network.",
            hipaa.transmission_security),
    Control("gdpr-5(1)(e)", _G, "Storage limitation",
            "Keep personal data no longer than necessary for its purposes.",
            gdpr.storage_limitation),
    Control("gdpr-5(1)(f)", _G, "Integrity and confidentiality",
            "Appropriate security of personal data, including against unauthorised access "
            "and accidental loss.", gdpr.integrity_confidentiality),
    Control("gdpr-15", _G, "Right of access by the data subject",
            "Confirm whether personal data is processed, give access to it and name who "
            "received it.", gdpr.right_of_access),
    Control("gdpr-17", _G, "Right to erasure",
            "Erase personal data without undue delay when asked.", gdpr.erasure),
    Control("gdpr-20", _G, "Right to data portability",
            "Give the data subject their data in a structured, machine-readable format.",
            gdpr.portability),
    Control("gdpr-25", _G, "Data protection by design and by default",
            "Protective measures built in, and the protective setting the default.",
            gdpr.by_design),
    Control("gdpr-30", _G, "Records of processing activities",
            "Keep a record of processing: purposes, categories of data and subjects, "
            "time limits for erasure, security measures.", gdpr.processing_records),
    Control("gdpr-32", _G, "Security of processing",
            "Encryption, ongoing integrity, timely restore after an incident, regular testing.",
            gdpr.security_of_processing),
    Control("sox-itgc-access", _S, "IT general controls: logical access",
            "Access to financial data and systems is granted, changed and removed through "
            "authorised, logged means; privileged access is restricted.", sox.logical_access),
    Control("sox-itgc-change", _S, "IT general controls: change management",
            "Changes to systems are authorised, attributable and recorded.",
            sox.change_management),
    Control("pci-dss-3", _P, "Protect stored account data",
            "Strong cryptography for stored data; keys with a cryptoperiod, retired when "
            "replaced, under split knowledge and dual control.", pci.protect_stored_data),
    Control("pci-dss-8", _P, "Identify users and authenticate access",
            "Unique identification of every user; lockout after repeated failures.",
            pci.authenticate_users),
    Control("pci-dss-10", _P, "Log and monitor all access",
            "Audit logs of all access, protected from modification, copied to a central "
            "server, reviewed, with failures answered.", pci.log_and_monitor),
    Control("euaiact-12", _E, "Record-keeping",
            "Automatic recording of events over the lifetime of the system, enabling "
            "traceability and the identification of risk situations.", euaiact.record_keeping),
)  # fmt: skip
"""Every control, in report order."""


def select(framework: str) -> list[Control]:
    """The controls of ``framework`` (``all``: every one); InvalidInput for an unknown name."""
    if framework == "all":
        return list(CATALOGUE)
    try:
        wanted = str(Framework(framework))
    except ValueError:
        names = ", ".join([*(str(f) for f in Framework), "all"])
        raise InvalidInput(f"framework must be one of {names}") from None
    return [c for c in CATALOGUE if c.framework == wanted]
