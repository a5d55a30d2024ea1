"""data subjects: the caller's reference for the person, as a keyed blind index

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strongroom.storage.journal import install_triggers

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.add_column(sa.Column("ref_index", sa.LargeBinary(), nullable=True))
        batch.create_index("ux_subjects_tenant_ref", ["tenant_id", "ref_index"], unique=True)
    # The journal's triggers list the table's columns: regenerate them.
    install_triggers(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.drop_index("ux_subjects_tenant_ref")
        batch.drop_column("ref_index")
    install_triggers(op.get_bind())
