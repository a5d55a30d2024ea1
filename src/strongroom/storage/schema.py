"""SQLAlchemy Core tables: the one description of what Strongroom persists.

Alembic migrations under ``storage/migrations`` create these tables; nothing
outside the tests calls ``create_all``. Times are UNIX seconds as floats.

Example::

    >>> from strongroom.storage.schema import metadata
    >>> "kv_versions" in metadata.tables
    True
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql

__all__ = [
    "audit_checkpoints",
    "audit_entries",
    "audit_keys",
    "audit_nodes",
    "backup_state",
    "change_journal",
    "consents",
    "kek_versions",
    "kv_metadata",
    "kv_versions",
    "legal_holds",
    "metadata",
    "mounts",
    "policies",
    "retention_rules",
    "seal_config",
    "subjects",
    "tenants",
    "tokens",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _path_type(length: int) -> String:
    # Record paths are compared byte-wise so that prefix listing can use an
    # index range scan: SQLite's default BINARY collation already does that;
    # PostgreSQL needs the "C" collation, or ordering follows the locale.
    return String(length).with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")


seal_config = Table(
    "seal_config",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("shares", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("protected_root", LargeBinary, nullable=True),
    Column("check_value", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

kek_versions = Table(
    "kek_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("retired_at", Float, nullable=True),
    # Durable upper bound of encryptions done under this version (hi-lo
    # reservation): a crash can only over-count, never under-count.
    Column("encryptions_reserved", BigInteger, nullable=False, default=0),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
)

mounts = Table(
    "mounts",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("max_versions", Integer, nullable=False, default=0),
    Column("cas_required", Boolean, nullable=False, default=False),
    Column("delete_version_after", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
)

kv_metadata = Table(
    "kv_metadata",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tenant_id", String(64), nullable=False),
    Column("mount", String(64), nullable=False),
    Column("path", _path_type(1024), nullable=False),
    Column("current_version", Integer, nullable=False, default=0),
    Column("oldest_version", Integer, nullable=False, default=0),
    Column("max_versions", Integer, nullable=False, default=0),
    Column("cas_required", Boolean, nullable=False, default=False),
    Column("delete_version_after", Float, nullable=False, default=0.0),
    Column("custom_metadata", Text, nullable=False, default="{}"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("tenant_id", "mount", "path", name="uq_kv_metadata_tenant_mount_path"),
)

kv_versions = Table(
    "kv_versions",
    metadata,
    Column(
        "metadata_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("kv_metadata.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("deletion_time", Float, nullable=True),
    Column("destroyed", Boolean, nullable=False, default=False),
    Column("content_type", String(128), nullable=False),
    # Exactly one of kek_version / subject_id says what wraps the DEK. A
    # destroyed version keeps neither key nor ciphertext.
    Column("kek_version", Integer, nullable=True),
    Column("subject_id", String(64), ForeignKey("subjects.id"), nullable=True),
    Column("wrapped_dek", LargeBinary, nullable=True),
    Column("ciphertext", LargeBinary, nullable=True),
    Index("ix_kv_versions_kek_version", "kek_version"),
    # Erasure counts a subject's versions, export and retention find them:
    # without it each is a scan of every record version (measured: 119 ms
    # inside the single writer's transaction at a million versions).
    Index("ix_kv_versions_subject_id", "subject_id"),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("kek_version", Integer, nullable=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("erased_at", Float, nullable=True),
    # The caller's reference for the person (a patient number…), only as a
    # keyed blind index: it can be looked up, never read back.
    Column("ref_index", LargeBinary, nullable=True),
    Index("ix_subjects_kek_version", "kek_version"),
    Index("ux_subjects_tenant_ref", "tenant_id", "ref_index", unique=True),
)

consents = Table(
    "consents",
    metadata,
    # One row per version: a grant, a renewal and a withdrawal each add a
    # version, so the history of a consent is never overwritten (GDPR art. 7(1):
    # the controller must be able to show that consent was given).
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("subject_id", String(64), ForeignKey("subjects.id"), primary_key=True),
    Column("purpose", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    # What the consent covers: a path pattern like a policy rule's ("*": all).
    Column("scope", String(1024), nullable=False),
    Column("granted_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("withdrawn_at", Float, nullable=True),
    # Where the signed form or the recorded click is kept (not the evidence itself).
    Column("evidence_ref", String(512), nullable=False, default=""),
    Column("recorded_at", Float, nullable=False),
)

retention_rules = Table(
    "retention_rules",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("mount", String(64), nullable=False),
    # Records whose path starts with this ("" for the whole mount).
    Column("path_prefix", _path_type(1024), nullable=False, default=""),
    # destroy-versions: destroy versions older than after_s; erase-subjects:
    # erase a subject once all of its records here are older than after_s.
    Column("action", String(32), nullable=False),
    Column("after_s", Float, nullable=False),
    Column("purpose", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("id", String(32), primary_key=True),
    # What is held: one subject, or records of a mount under a path prefix.
    Column("subject_id", String(64), nullable=True),
    Column("mount", String(64), nullable=True),
    Column("path_prefix", _path_type(1024), nullable=False, default=""),
    Column("reason", String(512), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("released_at", Float, nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("accessor", String(64), primary_key=True),
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("policies", Text, nullable=False),
    Column("display_name", String(256), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("max_expires_at", Float, nullable=True),
    Column("ttl", Integer, nullable=False),
    Column("renewable", Boolean, nullable=False, default=True),
    Column("parent_accessor", String(64), nullable=True),
    Column("revoked_at", Float, nullable=True),
    Column("meta", Text, nullable=False, default="{}"),
)

policies = Table(
    "policies",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("document", Text, nullable=False),
    Column("revision", Integer, nullable=False, default=1),
    Column("updated_at", Float, nullable=False),
)

# -- the audit ledger (RFC 9162 Merkle log) -----------------------------------

audit_entries = Table(
    "audit_entries",
    metadata,
    # The leaf index in the Merkle tree, from 0; dense and never reused.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    # SHA-256(0x00 || entry): the level-0 node (RFC 9162 §2.1.1).
    Column("leaf_hash", LargeBinary, nullable=False),
    # The exact canonical (RFC 8785) bytes that were hashed; never rewritten.
    Column("entry", LargeBinary, nullable=False),
    # Copies of entry fields, for the auditors' search only; the entry bytes
    # are the truth and verification never reads these.
    Column("time", Float, nullable=False),
    Column("event", String(64), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("principal", String(128), nullable=False),
    Column("resource", _path_type(1024), nullable=False),
    Column("outcome", String(16), nullable=False),
    # The data subject's audit pseudonym (sp1_…), if the entry touches one:
    # the access report (GDPR art. 15) is a search on it.
    Column("subject", String(64), nullable=True),
    Index("ix_audit_entries_leaf_hash", "leaf_hash"),
    Index("ix_audit_entries_time", "time"),
    Index("ix_audit_entries_principal", "principal", "seq"),
    Index("ix_audit_entries_resource", "resource", "seq"),
    Index("ix_audit_entries_event", "event", "seq"),
    Index("ix_audit_entries_subject", "subject", "seq"),
)

audit_nodes = Table(
    "audit_nodes",
    metadata,
    # Hashes of complete (perfect) subtrees above the leaves: level >= 1, the
    # subtree covering leaves [index * 2**level, (index + 1) * 2**level).
    # They never change once complete, so any proof costs O(log n) lookups.
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary, nullable=False),
    # The whole C2SP signed note, as served.
    Column("note", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

audit_keys = Table(
    "audit_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    # The signer name of the C2SP note (the log's origin line).
    Column("name", String(256), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    # The Ed25519 private key, wrapped by the root key: never in clear here.
    Column("wrapped_private", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)


# -- backups: the change journal (point-in-time restore) ------------------------

change_journal = Table(
    "change_journal",
    metadata,
    # Filled by database triggers only (storage/journal.py); AUTOINCREMENT on
    # SQLite so that numbers are never reused after the journal is trimmed.
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("tbl", String(64), nullable=False),
    # I(nsert), U(pdate), D(elete).
    Column("op", String(1), nullable=False),
    # Audit entries in the log when the change was made: the change belongs
    # to the write that appends the entry of that index.
    Column("ledger_size", BigInteger, nullable=False),
    # JSON image: the new row (I), its key and changed columns (U), its key (D).
    Column("row", Text, nullable=False),
    sqlite_autoincrement=True,
)

backup_state = Table(
    "backup_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    # This database's history: a restore starts a new one, so journal
    # segments from before and after it never chain.
    Column("timeline", String(32), nullable=False),
    # Journal rows up to here are in a stored snapshot and were deleted.
    Column("journal_trimmed_to", BigInteger, nullable=False, default=0),
    # Set by an offline restore (JSON facts: snapshot, index, log size); the
    # server appends them to the log as sys:backup:restore at its next unseal.
    Column("restore_note", Text, nullable=True),
)
