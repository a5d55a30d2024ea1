"""Signed tree heads: C2SP ``tlog-checkpoint`` bodies in C2SP ``signed-note`` envelopes.

A checkpoint commits to the ledger's RFC 6962 Merkle tree at one size. Its
body (c2sp.org/tlog-checkpoint, "Note text") is three or more lines, each
ending in a newline: the origin, the tree size in decimal, the base64 root
hash, then optional extension lines. The signed note (c2sp.org/signed-note,
"Format") is the body, a blank line, then one line per signature::

    strongroom.local/demo/audit/v1                   <- origin (the version marker)
    3                                                <- tree size, no leading zeros
    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=     <- root hash, standard base64
                                                     <- blank line
    — strongroom.local/demo/audit/v1 <base64(key ID || Ed25519 signature)>

The line starts with an em dash (U+2014) and a space. The key ID is the first
four bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)`` (signed-note,
"Ed25519 signatures"); the signature is RFC 8032 Ed25519 over the body,
final newline included, blank line excluded. This is the format of Go's
``golang.org/x/mod/sumdb/note``, Sigstore and Sigsum, so third-party tools and
witnesses can check and cosign Strongroom checkpoints: give them
:func:`verifier_key_string`.

**Version marker.** The origin line is the checkpoint's version marker. By
convention it is ``strongroom.local/<deployment>/audit/v1`` and the log's key
name is the same string (tlog-checkpoint, "Signatures": the key name SHOULD
match the origin). The caller chooses it; a future incompatible body would be
published under a new origin (``…/audit/v2``) so old verifiers never misread it.

Verification follows signed-note, "Signatures": lines from other keys (witness
cosignatures, a rotated log key) are ignored; the note is rejected if the
expected key's signature fails or is absent. Every failure raises
:class:`~strongroom.errors.ProofInvalid` with the reason.

Example::

    >>> from strongroom.crypto import SigningKey
    >>> from strongroom.ledger.checkpoint import (
    ...     Checkpoint, sign_checkpoint, verifier_key_string, verify_checkpoint)
    >>> origin = "strongroom.local/demo/audit/v1"
    >>> key = SigningKey(bytes(range(32)))  # use SigningKey.generate() for real
    >>> cp = Checkpoint(origin, 3, bytes(32))
    >>> note = sign_checkpoint(cp, key=key, name=origin)
    >>> print(note.decode(), end="")  # doctest: +ELLIPSIS
    strongroom.local/demo/audit/v1
    3
    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
    <BLANKLINE>
    — strongroom.local/demo/audit/v1 A6k+fzxkVKTo/NwU9fN/2NY1Elg+bHfEdqmnbjccWLmO...
    >>> verify_checkpoint(note, verifier=key.public_key(), name=origin) == cp
    True
    >>> verifier_key_string(origin, key.public_key())
    'strongroom.local/demo/audit/v1+03a93e7f+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final, Self

from strongroom.crypto import SigningKey, VerifyKey
from strongroom.errors import InvalidInput, ProofInvalid

__all__ = [
    "Checkpoint",
    "key_id",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "verifier_key_string",
    "verify_checkpoint",
    "verify_note",
]

_SIG_PREFIX: Final = "\u2014 ".encode()
"""Signature lines start with an em dash (U+2014) and a space (signed-note, "Format")."""

_ALG_ED25519: Final = b"\x01"
"""Signature type byte of Ed25519 (signed-note, "Signature types")."""

_KEY_ID_SIZE: Final = 4
_ROOT_HASH_SIZE: Final = 32
_MAX_TREE_SIZE: Final = 2**64 - 1
_MAX_SIGNATURES: Final = 100
_MAX_NOTE_BYTES: Final = 1 << 20

# Tree size: ASCII decimal, no leading zeros unless the tree is empty
# (tlog-checkpoint, "Note text" item 2). Twenty digits bound the parse.
_SIZE_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}")
# Signed notes MUST NOT contain ASCII control characters other than newline
# (signed-note, "Format").
_CONTROL_RE: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8_RE: Final = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: ``origin``, tree ``size`` and RFC 6962 ``root_hash``, validated on creation.

    ``extensions`` are the optional extension lines of tlog-checkpoint, opaque
    and non-empty; the spec does not recommend them, as monitors cannot audit
    them. Invalid values raise ``ValueError`` (or ``TypeError``).
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise TypeError("tree size must be an int")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise ValueError("tree size must be in 0..2**64-1")
        if not isinstance(self.root_hash, bytes):
            raise TypeError("root hash must be bytes")
        if len(self.root_hash) != _ROOT_HASH_SIZE:
            raise ValueError("root hash must be 32 bytes (SHA-256)")
        if not isinstance(self.extensions, tuple):
            raise TypeError("extensions must be a tuple of str")
        for line in self.extensions:
            _check_line(line, "extension line")

    def body(self) -> bytes:
        """Return the note text: every line, the last included, ends in ``\\n``."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse(cls, body: bytes) -> Self:
        """Return the checkpoint encoded in ``body``; exactly inverts :meth:`body`.

        Raises :class:`~strongroom.errors.ProofInvalid` for anything that is
        not a canonical tlog-checkpoint body: fewer than three lines, an empty
        line, a missing final newline, a size with a sign or leading zeros, a
        root hash that is not canonical standard base64 of 32 bytes.
        """
        if not isinstance(body, bytes):
            raise TypeError("checkpoint body must be bytes")
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise ProofInvalid("malformed checkpoint: not UTF-8") from None
        if not text.endswith("\n"):
            raise ProofInvalid("malformed checkpoint: body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise ProofInvalid("malformed checkpoint: fewer than three lines")
        if "" in lines:
            raise ProofInvalid("malformed checkpoint: empty line in body")
        origin, size_line, root_line, *extensions = lines
        if not _SIZE_RE.fullmatch(size_line):
            raise ProofInvalid("malformed checkpoint: tree size is not canonical decimal")
        root = _b64decode(root_line)
        if root is None or len(root) != _ROOT_HASH_SIZE:
            raise ProofInvalid("malformed checkpoint: root hash is not base64 of 32 bytes")
        try:
            return cls(origin, int(size_line), root, tuple(extensions))
        except ValueError as exc:
            raise ProofInvalid(f"malformed checkpoint: {exc}") from exc


def key_id(name: str, verifier: VerifyKey) -> bytes:
    """Return the 4-byte signed-note key ID of an Ed25519 key named ``name``.

    ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (signed-note,
    "Ed25519 signatures"). An identifier, not a security boundary: the
    signature is what is checked.
    """
    _require_name(name)
    return _key_id(name, verifier.raw)


def sign_note(text: bytes, *, key: SigningKey, name: str) -> bytes:
    """Return the signed note of ``text``: the text, a blank line, one signature line.

    ``text`` must be UTF-8 ending in a newline, without ASCII control
    characters other than newline, so the note can be opened by any
    signed-note verifier. ``name`` is the key name (non-empty, no spaces, no
    ``+``). Invalid arguments raise ``ValueError``.
    """
    _require_name(name)
    if not isinstance(text, bytes):
        raise TypeError("note text must be bytes")
    try:
        decoded = text.decode()
    except UnicodeDecodeError:
        raise ValueError("note text must be UTF-8") from None
    if not decoded.endswith("\n") or _CONTROL_RE.search(decoded):
        raise ValueError("note text must end in a newline and hold no control characters")
    # The signature covers the text including its final newline but not the
    # separating blank line (signed-note, "Format").
    signature = key.sign(text)
    blob = _key_id(name, key.public_key().raw) + signature
    return text + b"\n" + _SIG_PREFIX + f"{name} ".encode() + base64.b64encode(blob) + b"\n"


def verify_note(note: bytes, *, verifier: VerifyKey, name: str) -> bytes:
    """Return the text of ``note`` once the signature of key ``name``/``verifier`` verifies.

    Signature lines of other keys are parsed and ignored, as signed-note
    requires. Raises :class:`~strongroom.errors.ProofInvalid` for a malformed
    note, a missing signature from this key, or a signature that fails.
    """
    _require_name(name)
    if not isinstance(note, bytes):
        raise TypeError("note must be bytes")
    want_id = _key_id(name, verifier.raw)
    want = f"{name}+{want_id.hex()}"
    # 1. Bound the work before parsing anything (signed-note, "Format":
    #    verifiers SHOULD limit the number of signatures or the note size).
    if len(note) > _MAX_NOTE_BYTES:
        raise ProofInvalid("malformed note: larger than 1 MiB")
    # 2. Valid UTF-8 with no control characters other than newline.
    try:
        decoded = note.decode()
    except UnicodeDecodeError:
        raise ProofInvalid("malformed note: not UTF-8") from None
    if _CONTROL_RE.search(decoded):
        raise ProofInvalid("malformed note: control character")
    # 3. The LAST blank line separates the text (final newline included)
    #    from the signature block, which ends with a newline.
    split = note.rfind(b"\n\n")
    if split < 0:
        raise ProofInvalid("malformed note: no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith(b"\n"):
        raise ProofInvalid("malformed note: no signature lines, or no final newline")
    lines = block[:-1].split(b"\n")
    if len(lines) > _MAX_SIGNATURES:
        raise ProofInvalid(f"malformed note: more than {_MAX_SIGNATURES} signatures")
    # 4. Parse every line; the first one naming this (key name, key ID)
    #    decides. Lines of unknown keys, even sharing the name or the ID but
    #    not both, are ignored (signed-note, "Signatures").
    found: list[str] = []
    verified = False
    for line in lines:
        sig_name, sig_id, signature = _parse_signature_line(line)
        found.append(f"{sig_name}+{sig_id.hex()}")
        if verified or sig_name != name or sig_id != want_id:
            continue
        # 5. A known key's signature that fails rejects the whole note.
        try:
            verifier.verify(text, signature)
        except ProofInvalid:
            raise ProofInvalid(f"invalid signature for key {want}", key=want) from None
        verified = True
    if not verified:
        raise ProofInvalid(f"note has no signature from key {want}", expected=want, got=found)
    return text


def sign_checkpoint(cp: Checkpoint, *, key: SigningKey, name: str) -> bytes:
    """Return the signed note of checkpoint ``cp``, signed by ``key`` under key name ``name``.

    By convention (tlog-checkpoint, "Signatures") ``name`` equals ``cp.origin``.
    """
    return sign_note(cp.body(), key=key, name=name)


def verify_checkpoint(
    note: bytes, *, verifier: VerifyKey, name: str, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note and return its parsed :class:`Checkpoint`.

    With ``origin``, the checkpoint must also name that origin, so a
    checkpoint of another log signed by the same key is refused. Raises
    :class:`~strongroom.errors.ProofInvalid` on any failure.
    """
    cp = Checkpoint.parse(verify_note(note, verifier=verifier, name=name))
    if origin is not None and cp.origin != origin:
        raise ProofInvalid("checkpoint is for another log", expected=origin, got=cp.origin)
    return cp


def verifier_key_string(name: str, verifier: VerifyKey) -> str:
    """Return the verifier key ``<name>+<hex key ID>+<base64(0x01 || public key)>``.

    The format of Go's ``note.NewVerifier`` and of witness configurations, so
    the log key can be handed to third-party checkpoint verifiers.
    """
    _require_name(name)
    encoded = _ALG_ED25519 + verifier.raw
    return f"{name}+{_key_id(name, verifier.raw).hex()}+{base64.b64encode(encoded).decode()}"


def parse_verifier_key(vkey: str) -> tuple[str, VerifyKey]:
    """Return the key name and Ed25519 key of a verifier key string.

    Inverts :func:`verifier_key_string`. Raises
    :class:`~strongroom.errors.InvalidInput` if the string is malformed, its
    key ID does not match the name and key, or the algorithm is not Ed25519.
    """
    if not isinstance(vkey, str):
        raise TypeError("verifier key must be a str")
    # Names cannot contain "+", the hex ID cannot either, base64 may: split twice.
    name, _, rest = vkey.partition("+")
    id_hex, _, key_b64 = rest.partition("+")
    encoded = _b64decode(key_b64)
    if not _valid_name(name) or not _HEX8_RE.fullmatch(id_hex) or not encoded:
        raise InvalidInput("malformed verifier key: expected <name>+<8 hex>+<base64 key>")
    # The key ID covers the algorithm byte and the key (signed-note, "Signatures").
    digest = hashlib.sha256(name.encode() + b"\n" + encoded).digest()
    if digest[:_KEY_ID_SIZE] != bytes.fromhex(id_hex):
        raise InvalidInput("verifier key ID does not match its name and key")
    if encoded[:1] != _ALG_ED25519:
        raise InvalidInput("verifier key algorithm is not Ed25519 (0x01)")
    try:
        return name, VerifyKey(encoded[1:])
    except ValueError:
        raise InvalidInput("verifier key is not a 32-byte Ed25519 key") from None


def _key_id(name: str, public: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], for an already valid name."""
    return hashlib.sha256(name.encode() + b"\n" + _ALG_ED25519 + public).digest()[:_KEY_ID_SIZE]


def _parse_signature_line(line: bytes) -> tuple[str, bytes, bytes]:
    """Return (key name, key ID, signature) of one signature line, or raise ProofInvalid."""
    # "— <key name> <base64(key ID || signature)>" (signed-note, "Signatures").
    if not line.startswith(_SIG_PREFIX):
        raise ProofInvalid("malformed note: signature line must start with an em dash")
    name, _, b64 = line[len(_SIG_PREFIX) :].decode().partition(" ")
    raw = _b64decode(b64)
    if not _valid_name(name) or raw is None or len(raw) <= _KEY_ID_SIZE:
        raise ProofInvalid("malformed note: bad signature line")
    return name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]


def _b64decode(text: str) -> bytes | None:
    """Decode canonical standard base64 (RFC 4648 §4), padded; ``None`` otherwise.

    Re-encoding must give the input back, which rejects stray characters,
    missing padding and non-zero trailing bits, so every value has one form.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _valid_name(name: str) -> bool:
    """Key names are non-empty, with no Unicode space and no ``+`` (signed-note, "Format")."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _CONTROL_RE.search(name)
        and _encodable(name)
    )


def _require_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a valid signed-note key name."""
    if not isinstance(name, str):
        raise TypeError("key name must be a str")
    if not _valid_name(name):
        raise ValueError("key name must be non-empty, without spaces, '+' or control characters")


def _check_line(value: str, what: str) -> None:
    """Raise unless ``value`` can be one non-empty line of a signed note."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str")
    if not value or "\n" in value or _CONTROL_RE.search(value) or not _encodable(value):
        raise ValueError(f"{what} must be a non-empty line of UTF-8 without control characters")


def _encodable(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (no lone surrogates)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
