"""pages at scale: therapists by name, stored session sums of the district dashboard

`ix_users_district_role_active_name`: a district's active therapists by name (the caseloads page's
therapist table and its count, the assign choice), an index walk instead of reading and sorting every
user of the district, most of them guardians (65,140 of 66,074 at 50,000 students).

`session_totals_snapshots`: per district, the per-school sums of `session_day_totals` over the range
last asked for, with a generation bumped by every change of the district's day rows
(app/districts/rollups.py). Starts empty: the first view of each district computes its sums.

Revision ID: b4e7c2d91f3a
Revises: 8f3b1d6c2a91
Create Date: 2026-11-25 09:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b4e7c2d91f3a'
down_revision = '8f3b1d6c2a91'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_district_role_active_name', ['district_id', 'role', 'active', 'name', 'id'],
                              unique=False)
    op.create_table('session_totals_snapshots',
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('computed_generation', sa.Integer(), nullable=True),
    sa.Column('range_start', sa.Date(), nullable=True),
    sa.Column('range_end', sa.Date(), nullable=True),
    sa.Column('totals', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'],
                            name=op.f('fk_session_totals_snapshots_district_id_districts')),
    sa.PrimaryKeyConstraint('district_id', name=op.f('pk_session_totals_snapshots'))
    )


def downgrade():
    op.drop_table('session_totals_snapshots')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_district_role_active_name')
