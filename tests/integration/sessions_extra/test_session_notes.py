"""After the session: attendance, minutes and the private, encrypted DAP note."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.extensions import db
from app.scheduling.models import Appointment
from app.sessions.notes import SessionNote, note_for, suggested_minutes
from tests.conftest import get_csrf, login

SECRET_DATA = "Said the playground feels scary since the move"
SECRET_ASSESSMENT = "Adjustment worries, no safety concerns"
SECRET_PLAN = "Practise the calm-down plan with the teacher"
ALL_SECRETS = (SECRET_DATA, SECRET_ASSESSMENT, SECRET_PLAN)
NOTE_FORM = {"dap_data": SECRET_DATA, "dap_assessment": SECRET_ASSESSMENT, "dap_plan": SECRET_PLAN}


def _url(appointment) -> str:
    return f"/sessions/appointments/{appointment.id}/note"


def _save(client, appointment, **data):
    token = get_csrf(client, "/home")
    return client.post(_url(appointment), data={"csrf_token": token, **data})


def _fresh(appointment) -> Appointment:
    db.session.expire_all()
    return db.session.get(Appointment, appointment.id)


def test_therapist_can_record_attendance_and_write_the_note(app, world, past_session, login_as):
    appointment = past_session(length=45)
    client = login_as(world.therapist)
    page = client.get(_url(appointment)).get_data(as_text=True)
    assert 'value="45"' in page  # minutes prefilled from the planned length (no live room)
    response = _save(client, appointment, attendance="attended", minutes="40", **NOTE_FORM)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    appointment = _fresh(appointment)
    assert (appointment.attendance, appointment.minutes_delivered, appointment.status) == ("attended", 40, "completed")
    note = note_for(appointment)
    assert (note.data, note.assessment, note.plan) == ALL_SECRETS
    assert note.author_id == world.therapist.id
    page = client.get(_url(appointment)).get_data(as_text=True)
    assert all(secret in page for secret in ALL_SECRETS)
    assert 'value="40"' in page


def test_therapist_can_correct_the_note_and_it_stays_one_note(app, world, past_session, login_as):
    appointment = past_session()
    client = login_as(world.therapist)
    assert _save(client, appointment, attendance="attended", minutes="30", **NOTE_FORM).status_code == 302
    assert _save(client, appointment, attendance="attended", minutes="30", dap_data="Corrected",
                 dap_assessment="", dap_plan="").status_code == 302
    notes = db.session.scalars(select(SessionNote).where(SessionNote.appointment_id == appointment.id)).all()
    assert len(notes) == 1 and notes[0].data == "Corrected" and notes[0].plan == ""


def test_note_is_encrypted_at_rest(app, world, past_session, login_as):
    appointment = past_session()
    assert _save(login_as(world.therapist), appointment, attendance="attended", minutes="30",
                 **NOTE_FORM).status_code == 302
    row = db.session.execute(text("SELECT data, assessment, plan FROM session_notes")).one()
    for stored, secret in zip(row, ALL_SECRETS, strict=True):
        assert secret not in stored and "playground" not in stored
        assert stored.startswith("gAAAAA")  # a Fernet token


def test_note_cannot_be_read_with_another_key(app, world, past_session, login_as):
    appointment = past_session()
    assert _save(login_as(world.therapist), appointment, attendance="attended", minutes="30",
                 **NOTE_FORM).status_code == 302
    from cryptography.fernet import Fernet

    app.config["DATA_ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
    db.session.expire_all()
    with pytest.raises(RuntimeError, match="cannot be read"):
        note_for(appointment).data  # noqa: B018


def test_audit_records_note_written_with_ids_only(app, world, past_session, login_as):
    appointment = past_session()
    assert _save(login_as(world.therapist), appointment, attendance="attended", minutes="30",
                 **NOTE_FORM).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "note.written"))
    note = note_for(appointment)
    assert (event.target_type, event.target_id, event.student_id) == ("SessionNote", note.id, appointment.student_id)
    assert event.details == {"appointment_id": appointment.id, "created": True}
    dumped = repr(db.session.execute(text("SELECT * FROM audit_events")).all())
    assert not any(secret in dumped for secret in ALL_SECRETS)


def test_note_text_is_never_logged(app, world, past_session, login_as, caplog):
    appointment = past_session()
    client = login_as(world.therapist)
    with caplog.at_level(logging.DEBUG):
        assert _save(client, appointment, attendance="attended", minutes="30", **NOTE_FORM).status_code == 302
        client.get(_url(appointment))
    assert not any(secret in caplog.text for secret in ALL_SECRETS)
    assert SECRET_DATA not in repr(note_for(appointment))


def test_colleague_with_student_on_caseload_can_read_and_add_to_the_note_but_not_attendance(
        app, world, past_session, login_as, assign):
    appointment = past_session()
    assign(world.other_therapist, world.own_student)
    client = login_as(world.other_therapist)
    page = client.get(_url(appointment)).get_data(as_text=True)
    assert "Attendance" not in page  # attendance is the session's own therapist's
    assert _save(client, appointment, attendance="no_show", **NOTE_FORM).status_code == 302
    appointment = _fresh(appointment)
    assert appointment.attendance is None
    note = note_for(appointment)
    assert note.data == SECRET_DATA and note.updated_by_id == world.other_therapist.id


@pytest.mark.parametrize("who, status", [
    ("other_therapist", 404), ("foreign_therapist", 404), ("school_admin", 403), ("district_admin", 403),
    ("guardian", 403),
])
def test_others_cannot_view_or_write_the_note(app, world, past_session, login_as, who, status):
    appointment = past_session()
    owner = app.test_client()
    login(owner, world.therapist)
    assert _save(owner, appointment, attendance="attended", minutes="30", **NOTE_FORM).status_code == 302
    client = login_as(getattr(world, who))
    response = client.get(_url(appointment))
    assert response.status_code == status
    assert not any(secret in response.get_data(as_text=True) for secret in ALL_SECRETS)
    response = _save(client, appointment, attendance="no_show", dap_data="overwritten")
    assert response.status_code == status
    assert note_for(appointment).data == SECRET_DATA


def test_therapist_cannot_see_the_note_once_the_student_leaves_the_caseload(app, world, past_session, login_as):
    from app.districts.models import CaseloadAssignment

    appointment = past_session()
    client = login_as(world.therapist)
    assert _save(client, appointment, attendance="attended", minutes="30", **NOTE_FORM).status_code == 302
    assignment = db.session.scalar(select(CaseloadAssignment).where(
        CaseloadAssignment.therapist_id == world.therapist.id, CaseloadAssignment.student_id == world.own_student.id))
    assignment.ends_on = date.today() - timedelta(days=1)
    db.session.commit()
    assert client.get(_url(appointment)).status_code == 404


def test_anonymous_is_sent_to_sign_in(app, world, past_session, client):
    appointment = past_session()
    response = client.get(_url(appointment))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_note_post_without_csrf_token_changes_nothing(app, world, past_session, login_as):
    appointment = past_session()
    client = login_as(world.therapist)
    response = client.post(_url(appointment), data={"attendance": "attended", "minutes": "30", **NOTE_FORM})
    assert response.status_code == 400
    assert note_for(appointment) is None and _fresh(appointment).attendance is None


def test_note_cannot_be_written_before_the_session_starts(app, world, past_session, login_as):
    appointment = past_session(minutes_ago=-60)
    client = login_as(world.therapist)
    assert "once the session has started" in client.get(_url(appointment)).get_data(as_text=True)
    assert _save(client, appointment, **NOTE_FORM).status_code == 403
    assert note_for(appointment) is None


def test_therapist_can_record_attendance_alone(app, world, past_session, login_as):
    appointment = past_session()
    response = _save(login_as(world.therapist), appointment, attendance="no_show")
    assert response.status_code == 302
    assert _fresh(appointment).attendance == "no_show" and note_for(appointment) is None


def test_empty_note_is_refused_with_a_message(app, world, past_session, login_as, assign):
    appointment = past_session()
    assign(world.other_therapist, world.own_student)  # may write the note, not the attendance
    response = _save(login_as(world.other_therapist), appointment, attendance="attended", minutes="30")
    assert response.status_code == 400
    assert "Write at least one part of the note." in response.get_data(as_text=True)
    assert note_for(appointment) is None and _fresh(appointment).attendance is None


def test_bad_minutes_keep_the_note_text_on_the_page(app, world, past_session, login_as):
    appointment = past_session()
    response = _save(login_as(world.therapist), appointment, attendance="attended", minutes="0", **NOTE_FORM)
    assert response.status_code == 400
    assert SECRET_PLAN in response.get_data(as_text=True)
    assert note_for(appointment) is None


def test_appointment_page_links_to_the_note_for_the_therapist_only(app, world, past_session, login_as):
    appointment = past_session()
    link = _url(appointment)
    assert link in login_as(world.therapist).get(f"/schedule/appointments/{appointment.id}").get_data(as_text=True)
    admin = app.test_client()
    login(admin, world.district_admin)
    assert link not in admin.get(f"/schedule/appointments/{appointment.id}").get_data(as_text=True)


def test_minutes_are_prefilled_from_connected_time_when_the_call_ran(app, world, past_session):
    models = pytest.importorskip("app.sessions.models", reason="live rooms arrive with the live-sessions branch")
    appointment = past_session(length=45)
    room = db.session.scalar(select(models.LiveRoom).where(models.LiveRoom.appointment_id == appointment.id))
    if room is None:
        room = models.LiveRoom(district_id=appointment.district_id, appointment_id=appointment.id,
                               therapist_id=appointment.therapist_id, student_id=appointment.student_id,
                               opens_at=appointment.starts_at - timedelta(minutes=10), closes_at=appointment.ends_at,
                               status="ended")
        db.session.add(room)
    room.started_at = appointment.starts_at + timedelta(minutes=2)
    room.ended_at = appointment.starts_at + timedelta(minutes=35)
    db.session.commit()
    assert suggested_minutes(appointment) == 33


def test_note_service_refuses_whoever_the_rule_refuses(app, world, past_session):
    from app.sessions.notes import SessionNoteError, write_note

    appointment = past_session()
    for who in (world.district_admin, world.other_therapist, world.guardian, world.foreign_therapist):
        with pytest.raises(SessionNoteError):
            write_note(who, appointment, data="x", assessment="", plan="")
    assert note_for(appointment) is None
