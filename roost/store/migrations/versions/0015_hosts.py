"""hosts and recipes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 07:49:57.532444
"""

import sqlalchemy as sa
from alembic import op

import roost.store.base

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_applies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('recipes', sa.String(length=500), nullable=False),
    sa.Column('started_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', roost.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_host_applies'))
    )
    op.create_table('hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('apps', sa.JSON(), nullable=False),
    sa.Column('host_key_type', sa.String(length=64), nullable=False),
    sa.Column('host_key', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=100), nullable=False),
    sa.Column('private_key_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('facts_at', roost.store.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reachable', sa.Boolean(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('failed_checks', sa.Integer(), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('created_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hosts')),
    sa.UniqueConstraint('name', name=op.f('uq_hosts_name'))
    )
    op.create_table('recipe_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('set_at', roost.store.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipe_sources'))
    )


def downgrade() -> None:
    op.drop_table('recipe_sources')
    op.drop_table('hosts')
    op.drop_table('host_applies')
