"""dashboard rollups and scale indexes

`session_day_totals`: per (district, school, school-local date) session totals for the district
dashboard, kept in step with appointments by app/districts/rollups.py; filled here from the
existing appointments. Indexes for the district pages at 50,000 students: appointments of one
school by date (school dashboard), active students per school (dashboard counts), students by
name within a district (the students list), and a covering index of caseload assignments by
student (replaces ix_caseload_student_open, which it extends).

Revision ID: 5c1d8e2a4b60
Revises: e91b5c3a7f42
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1d8e2a4b60'
down_revision = 'e91b5c3a7f42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('session_day_totals',
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('scheduled', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('cancelled', sa.Integer(), nullable=False),
    sa.Column('minutes_planned', sa.Integer(), nullable=False),
    sa.Column('minutes_delivered', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_session_day_totals_district_id_districts')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_session_day_totals_school_id_schools')),
    sa.PrimaryKeyConstraint('district_id', 'school_id', 'local_date', name=op.f('pk_session_day_totals'))
    )
    with op.batch_alter_table('session_day_totals', schema=None) as batch_op:
        batch_op.create_index('ix_session_day_totals_district_date', ['district_id', 'local_date', 'school_id'],
                              unique=False)
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_school_local_date', ['school_id', 'local_date'], unique=False)
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.create_index('ix_students_district_active_school', ['district_id', 'active', 'school_id'],
                              unique=False)
        batch_op.create_index('ix_students_district_name', ['district_id', 'last_name', 'first_name', 'id'],
                              unique=False)
    with op.batch_alter_table('caseload_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_caseload_student_dates', ['student_id', 'ends_on', 'starts_on', 'therapist_id'],
                              unique=False)
        batch_op.drop_index('ix_caseload_student_open')

    # Fill the totals from the appointments already there (same definitions as rollups.direct_totals).
    if op.get_bind().dialect.name == 'postgresql':
        minutes = "round(extract(epoch from ends_at - starts_at) / 60)"
    else:
        minutes = "round((julianday(ends_at) - julianday(starts_at)) * 1440)"
    op.execute(f"""
        INSERT INTO session_day_totals (district_id, school_id, local_date, scheduled, delivered, no_shows,
                                        cancelled, minutes_planned, minutes_delivered)
        SELECT district_id, school_id, local_date, count(*),
               sum(CASE WHEN attendance = 'attended' THEN 1 ELSE 0 END),
               sum(CASE WHEN attendance = 'no_show' THEN 1 ELSE 0 END),
               sum(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END),
               sum(CASE WHEN status = 'cancelled' THEN 0 ELSE {minutes} END),
               sum(CASE WHEN attendance = 'attended' THEN coalesce(minutes_delivered, 0) ELSE 0 END)
        FROM appointments GROUP BY district_id, school_id, local_date
    """)


def downgrade():
    with op.batch_alter_table('caseload_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_caseload_student_open', ['student_id', 'ends_on'], unique=False)
        batch_op.drop_index('ix_caseload_student_dates')
    with op.batch_alter_table('students', schema=None) as batch_op:
        batch_op.drop_index('ix_students_district_name')
        batch_op.drop_index('ix_students_district_active_school')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_school_local_date')
    with op.batch_alter_table('session_day_totals', schema=None) as batch_op:
        batch_op.drop_index('ix_session_day_totals_district_date')
    op.drop_table('session_day_totals')
