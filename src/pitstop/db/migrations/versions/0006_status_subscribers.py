"""status page subscribers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_status_subscribers_email")),
    )
    with op.batch_alter_table("status_subscribers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_subscribers_token_hash"), ["token_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_subscribers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_subscribers_token_hash"))
    op.drop_table("status_subscribers")
