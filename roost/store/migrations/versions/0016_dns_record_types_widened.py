"""dns record types widened: Route53's alias type (``Route53Provider/ALIAS``) is 21 characters

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dns_records') as batch:
        batch.alter_column('type', existing_type=sa.String(length=10),
                           type_=sa.String(length=40), existing_nullable=False)
    with op.batch_alter_table('custom_domains') as batch:
        batch.alter_column('record_type', existing_type=sa.String(length=10),
                           type_=sa.String(length=40), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('custom_domains') as batch:
        batch.alter_column('record_type', existing_type=sa.String(length=40),
                           type_=sa.String(length=10), existing_nullable=False)
    with op.batch_alter_table('dns_records') as batch:
        batch.alter_column('type', existing_type=sa.String(length=40),
                           type_=sa.String(length=10), existing_nullable=False)
