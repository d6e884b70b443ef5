"""Fixtures for the session-note and preflight tests (the live helper's are in ../sessions/)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db_types import utcnow
from app.extensions import db


@pytest.fixture
def past_session(world):
    """make(therapist=..., student=..., minutes_ago=60, length=30): a session that has happened."""
    from app.scheduling.models import Appointment

    def make(therapist=None, student=None, *, minutes_ago=60, length=30, modality="telehealth"):
        therapist = therapist or world.therapist
        student = student or world.own_student
        start = (utcnow() - timedelta(minutes=minutes_ago)).replace(microsecond=0)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=length), local_date=start.date(),
            modality=modality, status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        return appointment

    return make
