"""dashboard snapshots

`dashboard_snapshots`: per district, the district dashboard's consent and caseload figures per
school with the instant they stop being true, and a generation counter bumped in the same
transaction as every change that can alter them (app/districts/snapshots.py). Starts empty: the
first view of each district computes its snapshot.

Revision ID: 8f3b1d6c2a91
Revises: 5c1d8e2a4b60
Create Date: 2026-11-24 20:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.db_types  # noqa: F401  (custom column types used by autogenerate)


# revision identifiers, used by Alembic.
revision = '8f3b1d6c2a91'
down_revision = '5c1d8e2a4b60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dashboard_snapshots',
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('computed_generation', sa.Integer(), nullable=True),
    sa.Column('computed_at', app.db_types.UTCDateTime(), nullable=True),
    sa.Column('valid_until', app.db_types.UTCDateTime(), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'],
                            name=op.f('fk_dashboard_snapshots_district_id_districts')),
    sa.PrimaryKeyConstraint('district_id', name=op.f('pk_dashboard_snapshots'))
    )


def downgrade():
    op.drop_table('dashboard_snapshots')
