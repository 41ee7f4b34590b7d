"""control-plane instances and leases

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:10:00
"""

import sqlalchemy as sa
from alembic import op

import roost.store.base

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instances',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('started_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('holds', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_instances'))
    )
    op.create_table('leases',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    sa.Column('expires_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )


def downgrade() -> None:
    op.drop_table('leases')
    op.drop_table('instances')
