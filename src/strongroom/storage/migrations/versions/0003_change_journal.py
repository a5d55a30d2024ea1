"""change journal for point-in-time restore: journal table, backup state, triggers

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from strongroom.storage.journal import drop_triggers, install_triggers

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_journal",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tbl", sa.String(length=64), nullable=False),
        sa.Column("op", sa.String(length=1), nullable=False),
        sa.Column("ledger_size", sa.BigInteger(), nullable=False),
        sa.Column("row", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change_journal")),
        sqlite_autoincrement=True,
    )
    state = op.create_table(
        "backup_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("timeline", sa.String(length=32), nullable=False),
        sa.Column("journal_trimmed_to", sa.BigInteger(), nullable=False),
        sa.Column("restore_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_state")),
    )
    # A database migrated with data already in it has no journal for that
    # data: point-in-time restore starts at its first snapshot either way.
    op.bulk_insert(state, [{"id": 1, "timeline": secrets.token_hex(8), "journal_trimmed_to": 0}])
    install_triggers(op.get_bind())


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_table("backup_state")
    op.drop_table("change_journal")
