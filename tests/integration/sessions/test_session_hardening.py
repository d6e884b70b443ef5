"""Security review leftovers in live sessions:

* TURN credentials live min(room close, now + CALL_TURN_LIFETIME); a participant asks for fresh
  ones over /call (`ice_servers`), refused once the room has ended or consent is gone.
* A lapsed or withdrawn video consent seen by any socket event ends the room for every member.
* Pages a student sees before the counselor lets them in never show the student's name.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.db_types import utcnow
from app.extensions import db
from app.sessions import services
from app.sessions.models import LiveRoom, RoomSocket
from tests.conftest import get_csrf, login
from tests.integration.sessions.test_sockets import _ended_within, _pair, _session_ended_reason

TURN = {"STUN_URLS": ["stun:turn.example:3478"], "TURN_URLS": ["turn:turn.example:3478"], "TURN_SECRET": "s3cret"}


def _turn_expiry(reply) -> int:
    turn = next(s for s in reply["iceServers"] if "credential" in s)
    return int(turn["username"].split(":")[0])


# --- TURN credential lifetime and refresh -----------------------------------------------------------


def test_participant_gets_turn_credentials_for_ten_minutes_not_until_the_room_closes(
        app, world, client, live_room, student_client, socket_for):
    app.config.update(TURN)
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for, minutes=50)
    before = utcnow()
    reply = student.emit("ice_servers", None, namespace="/call", callback=True)
    after = utcnow()
    assert reply["ok"] and 599 <= reply["expiresIn"] <= 600
    expiry = _turn_expiry(reply)
    assert int((before + timedelta(minutes=10)).timestamp()) <= expiry <= int((after + timedelta(minutes=10)).timestamp())
    assert expiry < int(room.closes_at.timestamp()) - 30 * 60  # the room has 40+ minutes left


def test_turn_credentials_never_outlive_the_room(app, world, client, live_room, student_client, socket_for):
    app.config.update(TURN)
    # A 30-minute session that started 26 minutes ago: 4 minutes left.
    start = utcnow().replace(microsecond=0) - timedelta(minutes=26)
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for, start=start)
    reply = therapist.emit("ice_servers", None, namespace="/call", callback=True)
    assert _turn_expiry(reply) == int(room.closes_at.timestamp())
    assert reply["expiresIn"] <= 4 * 60


def test_participant_can_refresh_turn_credentials(app, world, client, live_room, student_client, socket_for):
    app.config.update(TURN, CALL_TURN_LIFETIME=timedelta(seconds=90))
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    first = student.emit("ice_servers", None, namespace="/call", callback=True)
    second = student.emit("ice_servers", None, namespace="/call", callback=True)
    assert first["ok"] and second["ok"] and 89 <= second["expiresIn"] <= 90
    first_turn, second_turn = (next(s for s in r["iceServers"] if "credential" in s) for r in (first, second))
    assert first_turn["username"] != second_turn["username"]  # a new opaque id each time: nothing reused


def test_turn_refresh_is_refused_once_the_room_has_ended(app, world, client, live_room, student_client, socket_for):
    app.config.update(TURN)
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    # A socket whose disconnect was lost still asks: the room has ended, no credentials.
    db.session.execute(update(LiveRoom).where(LiveRoom.id == room.id).values(status="ended", ended_reason="closed"))
    db.session.commit()
    reply = therapist.emit("ice_servers", None, namespace="/call", callback=True)
    assert reply == {"ok": False, "code": "closed", "message": reply["message"]}
    assert "iceServers" not in reply


def test_waiting_student_gets_no_turn_credentials(app, world, client, live_room, student_client, socket_for):
    app.config.update(TURN)
    room = live_room()
    waiting = socket_for(student_client(room, admitted=False), room)  # refused: not let in
    assert not waiting.is_connected("/call")
    assert not any("credential" in str(m) for m in waiting.queue)


# --- consent gone: the room ends for everyone --------------------------------------------------------


def _expire_video_consent(student_id: int) -> None:
    """Video consent reaches its end date: no signal is sent (only a cron job notices, later)."""
    from app.consent.models import ConsentGrant

    db.session.execute(update(ConsentGrant).where(ConsentGrant.student_id == student_id,
                                                  ConsentGrant.scope == "video_sessions")
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_lapsed_video_consent_ends_the_room_for_every_member_at_the_next_event(
        app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    waiting = socket_for(student_client(room, admitted=False), room, namespace="/waiting")
    assert waiting.is_connected("/waiting")
    _expire_video_consent(room.student_id)
    # One member's event (here a chat line) is enough: it is refused, and the room ends for all.
    reply = student.emit("chat", {"text": "hello"}, namespace="/call", callback=True)
    assert reply["ok"] is False and reply["code"] == "no_consent"
    assert _ended_within([(therapist, "/call"), (student, "/call"), (waiting, "/waiting")])
    assert _session_ended_reason(therapist) == ["no_consent"]
    assert _session_ended_reason(waiting, "/waiting") == ["no_consent"]
    assert not any(m["name"] == "chat" for m in therapist.queue)  # nothing relayed
    room = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert room.status == "ended" and room.ended_reason == "no_consent" and room.join_code is None
    assert db.session.query(RoomSocket).filter_by(room_id=room.id).count() == 0
    assert not socket_for(client, room).is_connected("/call")  # and nobody comes back in


def test_lapsed_video_consent_ends_the_room_when_someone_connects(app, world, client, live_room, socket_for):
    room = live_room()
    _expire_video_consent(room.student_id)
    login(client, world.therapist)
    assert not socket_for(client, room).is_connected("/call")
    room = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert room.status == "ended" and room.ended_reason == "no_consent"
    page = client.get(f"/sessions/rooms/{room.id}").get_data(as_text=True)
    assert "permission (consent) for video sessions is not active" in page


def test_room_ended_for_lapsed_consent_is_audited(app, world, client, live_room, student_client, socket_for):
    from app.audit.models import AuditEvent

    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    _expire_video_consent(room.student_id)
    therapist.emit("media_state", {"muted": True, "camera_off": False}, namespace="/call")
    events = db.session.query(AuditEvent).filter_by(action="live_room.ended").all()
    assert len(events) == 1 and events[0].details.get("reason") == "no_consent"


# --- nothing identifying before the counselor lets the student in ---------------------------------


def test_student_name_is_not_shown_before_admission(app, world, client, live_room, make_student, assign):
    student = make_student(world.school_a, first_name="Zephyrine", last_name="Quillfeather", preferred_name="Zeffy")
    assign(world.therapist, student)
    room = live_room(student=student)
    names = ("Zephyrine", "Quillfeather", "Zeffy")

    def shown(path):
        page = client.get(path).get_data(as_text=True)
        return [n for n in names if n in page]

    response = client.post("/join", data={"code": room.join_code, "csrf_token": get_csrf(client, "/join")})
    assert response.status_code == 302
    ready = f"/sessions/rooms/{room.id}/ready"
    page = client.get(ready).get_data(as_text=True)
    assert "Hi! Your counselor will be ready for you soon." in page
    assert shown(ready) == []
    client.post(ready, data={"choice": "not_now", "csrf_token": get_csrf(client, ready)})
    assert "That's okay" in client.get(ready).get_data(as_text=True) and shown(ready) == []
    client.post(ready, data={"choice": "yes", "csrf_token": get_csrf(client, ready)})
    assert shown(f"/sessions/rooms/{room.id}/waiting") == []
    # Ended before admission: the ended page names nobody either.
    services.end_room(room, "therapist_ended")
    assert shown(f"/sessions/rooms/{room.id}/ready") == [] and shown(f"/sessions/rooms/{room.id}") == []
