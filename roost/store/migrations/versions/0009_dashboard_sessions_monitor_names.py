"""dashboard sessions, monitor names

Dashboard logins get their own revocable tokens (stored as SHA-256) instead of carrying
the API token in a cookie. Monitors get a name for the public status page, which no
longer shows their targets.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import roost.store.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("api_token_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", roost.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", roost.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", roost.store.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", roost.store.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_token_id"], ["api_tokens.id"],
            name=op.f("fk_dashboard_sessions_api_token_id_api_tokens"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_dashboard_sessions_token_sha256")),
    )
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_api_token_id'),
                              ['api_token_id'], unique=False)
    with op.batch_alter_table('uptime_monitors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('uptime_monitors', schema=None) as batch_op:
        batch_op.drop_column('name')
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_api_token_id'))
    op.drop_table('dashboard_sessions')
