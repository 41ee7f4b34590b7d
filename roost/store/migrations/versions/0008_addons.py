"""add-on attachments

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:05:00
"""

import sqlalchemy as sa
from alembic import op

import roost.store.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'addon_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('app_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('state_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('config_keys', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('created_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['app_id'], ['apps.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('app_id', 'kind'),
    )
    with op.batch_alter_table('addon_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_addon_attachments_app_id'), ['app_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('addon_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_addon_attachments_app_id'))
    op.drop_table('addon_attachments')
