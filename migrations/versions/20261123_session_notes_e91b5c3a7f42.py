"""session notes

The private DAP note of a session (one per appointment); data, assessment and plan are
Fernet-encrypted text (DATA_ENCRYPTION_KEYS).

Revision ID: e91b5c3a7f42
Revises: 3f8e6b2d9a17
Create Date: 2026-11-23 16:04:22.255981

"""
from alembic import op
import sqlalchemy as sa

import app.db_types  # noqa: F401  (custom column types used by autogenerate)


# revision identifiers, used by Alembic.
revision = 'e91b5c3a7f42'
down_revision = '3f8e6b2d9a17'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('session_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('data', app.db_types.EncryptedText(), nullable=False),
    sa.Column('assessment', app.db_types.EncryptedText(), nullable=False),
    sa.Column('plan', app.db_types.EncryptedText(), nullable=False),
    sa.Column('created_at', app.db_types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', app.db_types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_session_notes_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_session_notes_author_id_users')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_session_notes_district_id_districts')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_session_notes_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_notes')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_session_notes_appointment_id'))
    )
    with op.batch_alter_table('session_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_notes_district_id'), ['district_id'], unique=False)



def downgrade():
    with op.batch_alter_table('session_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_notes_district_id'))

    op.drop_table('session_notes')
