"""perf unrolled index: a range of a week reads the unrolled buckets through an index

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 17:10:00
"""

from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_perf_buckets_app_period_rolled_start', 'perf_buckets',
                    ['app', 'period', 'rolled', 'start'])


def downgrade() -> None:
    op.drop_index('ix_perf_buckets_app_period_rolled_start', table_name='perf_buckets')
