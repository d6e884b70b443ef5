"""The consent_revoked subscriber: affected future video sessions need consent, the therapist sees
them, the guardians are told; and the reminder job's sweep catches consent that simply ended."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.consent.services import revoke
from app.extensions import db
from app.notifications.services import outbox_messages
from app.scheduling import booking
from app.scheduling.cli import send_reminders
from tests.conftest import login
from tests.integration.scheduling.conftest import NOW, t


def _video_series(book, grant_consent, world, **kw):
    grant_consent(world.own_student, world.therapist, now=NOW, **kw)
    return book(first_date=date(2026, 10, 21), start_time=t("10:00"), modality="telehealth", repeat="weekly",
                occurrences=3).appointments


def test_revoking_video_consent_marks_future_video_sessions_and_tells_the_guardian(app, world, book, grant_consent):
    world.guardian.preferred_language = "es"
    db.session.commit()
    first, second, third = _video_series(book, grant_consent, world)
    in_person = book(first_date=date(2026, 10, 22), start_time=t("10:00")).appointments[0]
    revoked = revoke(_active_request(world), world.guardian, ["video_sessions"],
                     now=second.starts_at - timedelta(days=1))
    assert revoked == ["video_sessions"]
    db.session.expire_all()
    # The first session was before the revocation: it stays as it was.
    assert [a.status for a in (first, second, third)] == ["scheduled", "needs_consent", "needs_consent"]
    assert in_person.status == "scheduled"
    assert second.consent_flagged_at is not None
    mail = [m for m in outbox_messages() if m.to == world.guardian.email]
    assert len(mail) == 1
    assert "Own Student" in mail[0].subject and "en espera" in mail[0].subject  # the guardian's language
    assert "miércoles, 28 de octubre de 2026" in mail[0].text and "miércoles, 4 de noviembre de 2026" in mail[0].text
    assert "21 de octubre" not in mail[0].text
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "schedule.needs_consent")).all()
    assert len(actions) == 2


def _active_request(world):
    from app.consent.models import ConsentRequest

    return db.session.scalar(select(ConsentRequest).where(ConsentRequest.student_id == world.own_student.id,
                                                          ConsentRequest.status == "active"))


def test_therapist_sees_sessions_that_need_consent_on_the_calendar(app, client, world, make_student, assign,
                                                                   grant_consent, bells, available):
    # Booked in the real future, as the calendar pages use the clock.
    from app.db_types import utcnow
    from app.scheduling.services import local_today

    today = local_today(utcnow(), "America/Los_Angeles")
    future = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    grant_consent(world.own_student, world.therapist)
    [appointment] = booking.book(world.therapist, world.own_student, first_date=future, start_time=t("10:00"),
                                 duration_minutes=30, modality="telehealth").appointments
    revoke(_active_request(world), world.guardian, ["video_sessions"])
    login(client, world.therapist)
    week = client.get(f"/schedule/?week={future.isoformat()}").get_data(as_text=True)
    assert "1 video session needs consent" in week
    assert "session--needs_consent" in week and f"/schedule/appointments/{appointment.id}" in week
    home = client.get("/home").get_data(as_text=True)
    assert "1 video session needs consent" in home
    detail = client.get(f"/schedule/appointments/{appointment.id}").get_data(as_text=True)
    assert "Consent for video sessions no longer covers this session" in detail


def test_revoking_another_permission_changes_no_session(world, book, grant_consent):
    sessions = _video_series(book, grant_consent, world)
    revoke(_active_request(world), world.guardian, ["games"], now=NOW)
    db.session.expire_all()
    assert {a.status for a in sessions} == {"scheduled"}
    assert not [m for m in outbox_messages() if "Video sessions" in m.subject]


def test_a_session_still_covered_by_another_consent_is_left_alone(world, book, grant_consent):
    sessions = _video_series(book, grant_consent, world)
    older = _active_request(world)
    grant_consent(world.own_student, world.therapist, now=NOW, scopes=["video_sessions"])  # a second, newer consent
    revoke(older, world.guardian, ["video_sessions"], now=NOW)
    db.session.expire_all()
    assert {a.status for a in sessions} == {"scheduled"}


def test_moving_a_flagged_session_to_in_person_schedules_it_again(world, book, grant_consent):
    _first, second, _third = _video_series(book, grant_consent, world)
    revoke(_active_request(world), world.guardian, ["video_sessions"], now=NOW)
    db.session.expire_all()
    assert second.status == "needs_consent"
    booking.reschedule(world.therapist, second, new_date=second.local_date, start_time=t("10:00"),
                       modality="in_person", reason="Consent withdrawn: meet at school", now=NOW)
    assert second.status == "scheduled" and second.modality == "in_person" and second.consent_flagged_at is None


def test_the_reminder_job_flags_sessions_whose_consent_ended(app, world, book, grant_consent):
    sessions = _video_series(book, grant_consent, world, expires_on=date(2026, 11, 5))
    # A session booked while consent covered it... then consent ends with no revocation signal.
    assert [a.status for a in sessions] == ["scheduled"] * 3
    later = book(first_date=date(2026, 11, 12), start_time=t("10:00"), modality="in_person").appointments[0]
    from app.scheduling.models import Appointment

    stray = Appointment(district_id=later.district_id, school_id=later.school_id, therapist_id=later.therapist_id,
                        student_id=later.student_id, starts_at=later.starts_at + timedelta(hours=2),
                        ends_at=later.ends_at + timedelta(hours=2), local_date=later.local_date, modality="telehealth",
                        status="scheduled", created_by_id=world.therapist.id)
    db.session.add(stray)
    db.session.commit()
    with app.test_request_context():
        result = send_reminders(NOW)
        again = send_reminders(NOW)
    assert result["flagged"] == 1 and again["flagged"] == 0
    assert stray.status == "needs_consent"
    assert len([m for m in outbox_messages() if m.to == world.guardian.email]) == 1
