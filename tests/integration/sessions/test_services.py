"""Live-room services: the window, the join link and code, redeeming, assent, admitting, ending."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db_types import utcnow
from app.extensions import db
from app.scheduling.models import Appointment
from app.sessions import services
from app.sessions.models import LiveRoom, StudentGrant
from app.sessions.signals import room_ended


def _appointment(world, *, start, minutes=30, modality="telehealth", therapist=None, student=None):
    therapist = therapist or world.therapist
    student = student or world.own_student
    row = Appointment(district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
                      student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=minutes),

                      local_date=start.astimezone(ZoneInfo(student.school.timezone)).date(),
                      modality=modality, status="scheduled", created_by_id=therapist.id)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def consented(world, grant_consent):
    grant_consent(world.own_student, world.therapist, scopes=["video_sessions", "games"],
                  now=utcnow() - timedelta(days=1))
    return world


def test_therapist_can_open_room_from_10_minutes_before_until_the_end(consented):
    world = consented
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    appointment = _appointment(world, start=start)
    with pytest.raises(services.SessionError, match="10 minutes before"):
        services.open_room(world.therapist, appointment, now=start - timedelta(minutes=10, seconds=1))
    room = services.open_room(world.therapist, appointment, now=start - timedelta(minutes=10))
    assert room.opens_at == start - timedelta(minutes=10) and room.closes_at == appointment.ends_at
    assert services.open_room(world.therapist, appointment, now=start).id == room.id  # opening again: the same room
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "live_room.opened")) is not None


def test_therapist_cannot_open_room_after_the_end(consented):
    world = consented
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    appointment = _appointment(world, start=start)
    with pytest.raises(services.SessionError, match="over"):
        services.open_room(world.therapist, appointment, now=appointment.ends_at)


def test_therapist_cannot_open_room_of_an_in_person_session(consented):
    appointment = _appointment(consented, start=utcnow(), modality="in_person")
    with pytest.raises(services.SessionError, match="telehealth"):
        services.open_room(consented.therapist, appointment)


def test_other_therapist_and_admin_cannot_open_the_room(consented):
    appointment = _appointment(consented, start=utcnow())
    for actor in (consented.other_therapist, consented.district_admin, consented.foreign_therapist):
        with pytest.raises(services.SessionError, match="cannot open"):
            services.open_room(actor, appointment)


def test_therapist_cannot_open_room_without_video_consent(world):
    appointment = _appointment(world, start=utcnow())
    with pytest.raises(services.SessionError, match="consent"):
        services.open_room(world.therapist, appointment)


def test_join_code_uses_an_unambiguous_alphabet_and_is_unique_among_open_rooms(consented, monkeypatch):
    assert not set("0O1IL") & set(services.CODE_ALPHABET)
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    assert re.fullmatch(f"[{services.CODE_ALPHABET}]{{6}}", room.join_code)
    # A clash with an open room draws again; a closed room's code is taken over.
    code = room.join_code
    draws = iter(code + "AAAAAA")
    monkeypatch.setattr(services.secrets, "choice", lambda _alphabet: next(draws))
    assert services._new_code(utcnow()) == "AAAAAA"
    draws = iter(code)
    assert services._new_code(utcnow() + timedelta(hours=2)) == code
    db.session.refresh(room)
    assert room.join_code is None


def test_join_code_is_valid_only_while_the_room_is_open(consented):
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    code = room.join_code
    assert services.find_room_by_code(f" {code.lower()[:3]}-{code[3:]} ", utcnow()).id == room.id
    assert services.find_room_by_code(code, room.closes_at) is None
    with pytest.raises(services.JoinError) as refused:
        services.redeem_code(code, now=room.closes_at)
    assert refused.value.code == "unknown"
    db.session.refresh(room)


def test_join_link_token_is_long_random_and_only_hashed(consented):
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    token = services.issue_join_link(consented.therapist, room)
    assert len(token) >= 43  # 32 random bytes in base64url: 256 bits (>= 128 required)
    stored = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert stored.join_token_hash == services.hash_token(token) and token not in stored.join_token_hash
    assert token not in str([e.details for e in db.session.scalars(select(AuditEvent))])
    grant = services.redeem_token(token)
    assert grant.room_id == room.id and grant.via == "link" and grant.admitted_at is None
    # A fresh link replaces the old one.
    fresh = services.issue_join_link(consented.therapist, room)
    assert fresh != token
    with pytest.raises(services.JoinError):
        services.redeem_token(token)
    assert services.redeem_token(fresh).room_id == room.id


def test_join_link_is_emailed_to_legal_guardians(consented, make_user, link_guardian):
    from app.notifications.services import outbox_messages

    restricted = make_user("guardian", consented.district)
    link_guardian(restricted, consented.own_student, restricted=True)
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    sent = services.email_join_link(consented.therapist, room, lambda token: f"http://localhost/join/{token}")
    assert sent == 1
    messages = outbox_messages()
    assert [m.to for m in messages] == [consented.guardian.email]
    token = re.search(r"/join/(\S+)", messages[0].text).group(1)
    assert services.redeem_token(token).room_id == room.id


def test_redeeming_needs_video_consent(consented):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    code = room.join_code
    request = db.session.scalar(select(ConsentRequest))
    revoke(request, consented.guardian, scopes=["video_sessions"])
    with pytest.raises(services.JoinError):
        services.redeem_code(code)


def test_assent_is_recorded_and_remembered_for_the_next_session(consented):
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    grant = services.redeem_code(room.join_code)
    assert grant.assent is None
    services.record_assent(grant, "not_now")
    assert grant.assent == "not_now"
    with pytest.raises(services.SessionError):
        services.record_assent(grant, "maybe")
    services.record_assent(grant, "yes")
    assert services.redeem_code(room.join_code).assent == "yes"


def test_admit_needs_assent_and_the_rooms_therapist(consented):
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    grant = services.redeem_code(room.join_code)
    with pytest.raises(services.SessionError, match="ready"):
        services.admit(consented.therapist, room, grant)
    services.record_assent(grant, "yes")
    with pytest.raises(services.SessionError):
        services.admit(consented.other_therapist, room, grant)
    services.admit(consented.therapist, room, grant)
    assert grant.admitted_at is not None and room.status == "live" and room.started_at is not None


def test_end_room_revokes_grants_forgets_link_and_code_and_signals_once(consented):
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    services.issue_join_link(consented.therapist, room)
    grant = services.redeem_code(room.join_code)
    heard = []

    def listener(sender, **kw):
        heard.append((sender.id, kw))

    room_ended.connect(listener)
    try:
        assert services.end_room(room, "therapist_ended", actor=consented.therapist) is True
        assert services.end_room(room, "therapist_ended") is False
    finally:
        room_ended.disconnect(listener)
    assert [h[0] for h in heard] == [room.id]
    assert set(heard[0][1]) >= {"room_id", "district_id", "reason", "at"}
    assert heard[0][1]["reason"] == "therapist_ended"
    assert room.join_code is None and room.join_token_hash is None and room.status == "ended"
    assert db.session.get(StudentGrant, grant.id, populate_existing=True).revoked_at is not None
    with pytest.raises(services.SessionError):
        services.open_room(consented.therapist, room.appointment)
    with pytest.raises(ValueError):
        services.end_room(room, "bored")


def test_ice_config_only_for_participants(consented, app):
    room = services.open_room(consented.therapist, _appointment(consented, start=utcnow()))
    servers, expires_at = services.ice_config(room, consented.therapist)
    assert servers == [] and expires_at <= room.closes_at
    with pytest.raises(services.SessionError):
        services.ice_config(room, consented.other_therapist)
    waiting = services.redeem_code(room.join_code)
    with pytest.raises(services.SessionError):
        services.ice_config(room, waiting)
