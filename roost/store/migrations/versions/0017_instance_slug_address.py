"""instance slug address: where each control-plane instance serves slugs to swarm tasks

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 15:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances') as batch:
        batch.add_column(sa.Column('slug_address', sa.String(length=255), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('instances') as batch:
        batch.drop_column('slug_address')
