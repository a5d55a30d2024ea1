"""data subject rights: the subject column of audit entries, consents, retention, legal holds

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from strongroom.storage.audit import backfill_subject_column
from strongroom.storage.journal import install_triggers

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# journal.WITHHELD["subjects"] as of this revision (fixed here: a migration
# must not change meaning when the code later does).
_WITHHELD = ("wrapped_key",)


def _path(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(
        sa.dialects.postgresql.VARCHAR(length, collation="C"), "postgresql"
    )


def _scrub_journal(bind: sa.engine.Connection) -> None:
    journal = sa.table(
        "change_journal", sa.column("seq", sa.BigInteger), sa.column("tbl"), sa.column("row")
    )
    rows = bind.execute(
        sa.select(journal.c.seq, journal.c.row).where(journal.c.tbl == "subjects")
    ).all()
    for seq, row in rows:
        image = json.loads(row)
        if isinstance(image, dict) and any(c in image for c in _WITHHELD):
            for column in _WITHHELD:
                image.pop(column, None)
            bind.execute(journal.update().where(journal.c.seq == seq).values(row=json.dumps(image)))


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch.create_index("ix_audit_entries_subject", ["subject", "seq"])
    # The search copy of each entry's "subject" field for entries written
    # before the column existed; the entry bytes themselves never change.
    backfill_subject_column(op.get_bind())
    op.create_index("ix_kv_versions_subject_id", "kv_versions", ["subject_id"])
    op.create_table(
        "consents",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("subject_id", sa.String(64), sa.ForeignKey("subjects.id"), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("granted_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("withdrawn_at", sa.Float(), nullable=True),
        sa.Column("evidence_ref", sa.String(512), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "subject_id", "purpose", "version", name=op.f("pk_consents")
        ),
    )
    op.create_table(
        "retention_rules",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("mount", sa.String(64), nullable=False),
        sa.Column("path_prefix", _path(1024), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("after_s", sa.Float(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_retention_rules")),
    )
    op.create_table(
        "legal_holds",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("mount", sa.String(64), nullable=True),
        sa.Column("path_prefix", _path(1024), nullable=False),
        sa.Column("reason", sa.String(512), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("released_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_legal_holds")),
    )
    # New journaled tables, and the subject key now withheld from the journal:
    # new triggers leave it out, and rows journaled before lose it here, or
    # the next snapshot would carry them into a long-lived backup.
    install_triggers(op.get_bind())
    _scrub_journal(op.get_bind())


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("retention_rules")
    op.drop_table("consents")
    op.drop_index("ix_kv_versions_subject_id", table_name="kv_versions")
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_index("ix_audit_entries_subject")
        batch.drop_column("subject")
    install_triggers(op.get_bind())
