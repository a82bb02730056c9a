"""service centers, appointments and their bays

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_centers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), server_default="", nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_centers")),
    )
    op.create_table(
        "service_appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["service_centers.id"],
            name=op.f("fk_service_appointments_center_id_service_centers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_service_appointments_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_service_appointments_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_appointments")),
    )
    with op.batch_alter_table("service_appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_service_appointments_center_start", ["center_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_appointments_vehicle_id"), ["vehicle_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_appointments_owner_id"), ["owner_id"], unique=False
        )
    op.create_table(
        "service_bays",
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bay", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["service_centers.id"],
            name=op.f("fk_service_bays_center_id_service_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["service_appointments.id"],
            name=op.f("fk_service_bays_appointment_id_service_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("center_id", "starts_at", "bay", name=op.f("pk_service_bays")),
        sa.UniqueConstraint("vehicle_id", "starts_at", name="uq_service_bays_vehicle_start"),
    )
    with op.batch_alter_table("service_bays", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_bays_appointment_id"), ["appointment_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("service_bays")
    op.drop_table("service_appointments")
    op.drop_table("service_centers")
