"""The /call and /waiting namespaces: who may connect, what is relayed to whom, validation,
rate limits, and ending (therapist, consent revocation, deactivation) cutting every socket."""

from __future__ import annotations

import time

from app.extensions import db
from app.sessions.models import LiveRoom, RoomSocket
from tests.conftest import login


def _refusal(sock, namespace="/call") -> bool:
    return not sock.is_connected(namespace)


def _therapist_socket(app, world, client, socket_for, room):
    login(client, world.therapist)
    return socket_for(client, room)


# --- refused connects ----------------------------------------------------------------------------


def test_anonymous_cannot_connect_to_call(app, world, client, live_room, socket_for):
    room = live_room()
    assert _refusal(socket_for(client, room))


# Origin checks (every namespace): tests/integration/security/test_socket_handshake.py


def test_therapist_cannot_connect_to_another_districts_room(app, world, client, live_room, socket_for):
    foreign = live_room(student=world.foreign_student, therapist=world.foreign_therapist)
    login(client, world.therapist)
    assert _refusal(socket_for(client, foreign))


def test_other_therapist_and_admins_cannot_connect_to_a_room(app, world, live_room, socket_for):
    room = live_room()
    for person in (world.other_therapist, world.district_admin, world.school_admin, world.guardian):
        client = app.test_client()
        login(client, person)
        assert _refusal(socket_for(client, room)), person.role
        assert _refusal(socket_for(client, room, namespace="/waiting"), person.role)


def test_guardian_cannot_connect_to_call(app, world, client, live_room, socket_for):
    room = live_room()
    login(client, world.guardian)
    assert _refusal(socket_for(client, room))


def test_bad_room_ids_are_refused(app, world, client, live_room, socket_for):
    room = live_room()
    login(client, world.therapist)
    for auth in ({}, {"room": "1"}, {"room": True}, {"room": -1}, {"room": 10**9}, {"room": [room.id]}):
        assert _refusal(socket_for(client, room, auth=auth)), auth


def test_waiting_student_cannot_connect_to_call_but_can_wait(app, world, live_room, student_client, socket_for):
    room = live_room()
    student = student_client(room, admitted=False)
    assert _refusal(socket_for(student, room))
    assert socket_for(student, room, namespace="/waiting").is_connected("/waiting")


def test_student_without_assent_cannot_wait(app, world, live_room, student_client, socket_for):
    room = live_room()
    student = student_client(room, admitted=False, assent=None)
    assert _refusal(socket_for(student, room, namespace="/waiting"), "/waiting")


def test_student_grant_cannot_connect_to_another_room(app, world, live_room, student_client, socket_for, make_student,
                                                       assign, grant_consent):
    room_a = live_room()
    second = make_student(world.school_b)
    assign(world.other_therapist, second)
    room_b = live_room(student=second, therapist=world.other_therapist)
    student = student_client(room_a)
    assert socket_for(student, room_a).is_connected("/call")
    assert _refusal(socket_for(student, room_b))


def test_nobody_connects_to_a_closed_room(app, world, client, live_room, student_client, socket_for):
    from app.sessions import services

    room = live_room()
    student = student_client(room)
    services.end_room(room, "therapist_ended")
    login(client, world.therapist)
    assert _refusal(socket_for(client, room))
    assert _refusal(socket_for(student, room))


def test_nobody_connects_to_a_room_past_its_end(app, world, client, live_room, socket_for):
    from datetime import timedelta

    from app.db_types import utcnow

    room = live_room(start=utcnow() - timedelta(minutes=40))
    login(client, world.therapist)
    assert _refusal(socket_for(client, room))
    db.session.refresh(room)
    assert room.status == "ended" and room.ended_reason == "closed"


def test_nobody_connects_without_video_consent(app, world, client, live_room, student_client, socket_for,
                                               grant_consent):
    room = live_room()
    student = student_client(room)
    _revoke_video(world)
    login(client, world.therapist)
    assert _refusal(socket_for(client, room))
    assert _refusal(socket_for(student, room))


def test_room_without_consent_cannot_be_opened(app, world, live_room):
    import pytest

    from app.sessions.services import SessionError

    with pytest.raises(SessionError, match="consent"):
        live_room(consent=False)


# --- relaying ------------------------------------------------------------------------------------


def _pair(app, world, client, live_room, student_client, socket_for, **kw):
    room = live_room(**kw)
    therapist = _therapist_socket(app, world, client, socket_for, room)
    student = socket_for(student_client(room), room)
    assert therapist.is_connected("/call") and student.is_connected("/call")
    therapist.events(), student.events()
    return room, therapist, student


OFFER = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}
CANDIDATE = {"candidate": {"candidate": "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "sdpMid": "0",
                           "sdpMLineIndex": 0, "usernameFragment": "abcd"}}


def test_student_can_signal_the_therapist_and_only_the_therapist(app, world, client, live_room, student_client,
                                                                 socket_for, make_student, assign):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    # A second pair in another room of the same district must hear nothing.
    second = make_student(world.school_a)
    assign(world.other_therapist, second)
    other_client = app.test_client()
    other_room = live_room(student=second, therapist=world.other_therapist)
    login(other_client, world.other_therapist)
    bystander = socket_for(other_client, other_room)
    bystander.events()

    assert student.emit("signal", OFFER, namespace="/call", callback=True) == {"ok": True}
    assert student.emit("signal", CANDIDATE, namespace="/call", callback=True) == {"ok": True}
    got = therapist.events()
    assert [m["name"] for m in got] == ["signal", "signal"]
    assert got[0]["args"][0] == {**OFFER, "from": "student"}
    assert got[1]["args"][0]["candidate"]["candidate"].startswith("candidate:1")
    assert student.events() == []  # never echoed back
    assert bystander.events() == []


def test_participant_of_room_a_cannot_send_into_room_b(app, world, client, live_room, student_client, socket_for,
                                                        make_student, assign):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    second = make_student(world.school_b)
    assign(world.other_therapist, second)
    room_b = live_room(student=second, therapist=world.other_therapist)
    other_sock = socket_for(student_client(room_b), room_b)
    assert other_sock.is_connected("/call")
    other_sock.events()
    student.emit("signal", OFFER, namespace="/call")
    student.emit("chat", {"text": "hello"}, namespace="/call")
    assert other_sock.events() == []
    assert [m["name"] for m in therapist.events()] == ["signal", "chat"]
    # There is no way to name another room in a message: extra keys are refused.
    reply = student.emit("signal", {**OFFER, "room": room_b.id}, namespace="/call", callback=True)
    assert reply["code"] == "invalid"
    reply = student.emit("chat", {"text": "hi", "room": room_b.id}, namespace="/call", callback=True)
    assert reply["code"] == "invalid"


def test_chat_is_relayed_and_not_stored(app, world, client, live_room, student_client, socket_for, caplog):
    from app.audit.models import AuditEvent

    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    secret = "I feel sad about my dog"
    before = db.session.query(AuditEvent).count()
    with caplog.at_level("DEBUG"):
        assert therapist.emit("chat", {"text": "Hello!"}, namespace="/call", callback=True) == {"ok": True}
        assert student.emit("chat", {"text": secret}, namespace="/call", callback=True) == {"ok": True}
    assert student.events() == [{"name": "chat", "args": [{"from": "therapist", "text": "Hello!"}], "namespace": "/call"}]
    assert therapist.events()[0]["args"][0] == {"from": "student", "text": secret}
    assert secret not in caplog.text
    assert db.session.query(AuditEvent).count() == before


def test_media_state_is_relayed(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    student.emit("media_state", {"muted": True, "camera_off": False}, namespace="/call")
    assert therapist.events()[0]["args"][0] == {"muted": True, "camera_off": False, "from": "student"}


# --- validation and rate limits --------------------------------------------------------------------


def test_malformed_payloads_get_an_error_and_change_nothing(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    bad = [
        ("signal", None), ("signal", "offer"), ("signal", {}), ("signal", {"description": {"type": "offer"}}),
        ("signal", {"description": {"type": "pranswer-x", "sdp": "x"}}),
        ("signal", {"description": {"type": "offer", "sdp": "x" * 60001}}),
        ("signal", {"candidate": {"candidate": "x" * 2000}}),
        ("signal", {"candidate": {"candidate": "c", "sdpMLineIndex": "0"}}),
        ("signal", {**OFFER, **CANDIDATE}),
        ("chat", {"text": ""}), ("chat", {"text": "x" * 501}), ("chat", {"text": 5}), ("chat", ["hi"]),
        ("media_state", {"muted": "yes", "camera_off": False}),
        ("admit", {"grant_id": "1"}), ("end", {"now": True}), ("ice_servers", {"x": 1}),
        ("no_such_event", {}),
    ]
    for event, payload in bad:
        reply = student.emit(event, payload, namespace="/call", callback=True)
        assert reply["ok"] is False and reply["code"] in ("invalid", "unknown_event"), (event, payload, reply)
    assert therapist.events() == []
    errors = student.events()
    assert {m["name"] for m in errors} == {"error"} and len(errors) == len(bad)
    assert student.is_connected("/call")


def test_signal_rate_limit(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    replies = [student.emit("signal", CANDIDATE, namespace="/call", callback=True) for _ in range(80)]
    limited = [r for r in replies if r.get("code") == "rate_limited"]
    assert limited, "80 candidates at once must hit the limit (burst 60)"
    assert replies[0] == {"ok": True} and replies[-1]["code"] == "rate_limited"


def test_chat_rate_limit(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    replies = [student.emit("chat", {"text": "hi"}, namespace="/call", callback=True) for _ in range(10)]
    assert any(r.get("code") == "rate_limited" for r in replies)


def test_student_cannot_admit_or_end(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    assert student.emit("end", None, namespace="/call", callback=True)["code"] == "forbidden"
    assert student.emit("admit", {"grant_id": 1}, namespace="/call", callback=True)["code"] == "forbidden"
    db.session.refresh(room)
    assert room.status == "live"


def test_ice_servers_only_for_participants_and_expire_with_the_room(app, world, client, live_room, student_client,
                                                                    socket_for):
    app.config.update(STUN_URLS=["stun:stun.example:3478"], TURN_URLS=["turn:turn.example:3478"],
                      TURN_SECRET="s3cret")
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    reply = student.emit("ice_servers", None, namespace="/call", callback=True)
    assert reply["ok"]
    turn = next(s for s in reply["iceServers"] if "credential" in s)
    expiry = int(turn["username"].split(":")[0])
    assert expiry <= int(room.closes_at.timestamp())


def test_ice_servers_are_empty_in_tests(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    reply = therapist.emit("ice_servers", None, namespace="/call", callback=True)
    assert reply == {"ok": True, "iceServers": [], "iceTransportPolicy": "all", "expiresIn": 600}


# --- waiting and admitting -----------------------------------------------------------------------


def test_therapist_sees_the_student_waiting_and_admits_them(app, world, client, live_room, student_client, socket_for):
    room = live_room()
    therapist = _therapist_socket(app, world, client, socket_for, room)
    therapist.events()
    student_http = student_client(room, admitted=False)
    waiting = socket_for(student_http, room, namespace="/waiting")
    grant_id = student_http.grant.id
    assert therapist.events() == [{"name": "student_waiting", "args": [{"grant_id": grant_id}], "namespace": "/call"}]
    assert therapist.emit("admit", {"grant_id": grant_id}, namespace="/call", callback=True) == {"ok": True}
    assert waiting.names("/waiting") == ["admitted"]
    db.session.refresh(room)
    assert room.status == "live" and room.started_at is not None
    assert socket_for(student_http, room).is_connected("/call")


def test_therapist_sees_who_is_waiting_on_connect(app, world, client, live_room, student_client, socket_for):
    room = live_room()
    student_http = student_client(room, admitted=False)
    socket_for(student_http, room, namespace="/waiting")
    therapist = _therapist_socket(app, world, client, socket_for, room)
    assert {"name": "student_waiting", "args": [{"grant_id": student_http.grant.id}], "namespace": "/call"} in \
        therapist.events()


def test_therapist_cannot_admit_another_rooms_grant(app, world, client, live_room, student_client, socket_for,
                                                     make_student, assign):
    room = live_room()
    second = make_student(world.school_a)
    assign(world.other_therapist, second)
    other_room = live_room(student=second, therapist=world.other_therapist)
    stranger = student_client(other_room, admitted=False)
    therapist = _therapist_socket(app, world, client, socket_for, room)
    reply = therapist.emit("admit", {"grant_id": stranger.grant.id}, namespace="/call", callback=True)
    assert reply["code"] == "not_found"


def test_reconnect_replaces_the_older_socket(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    again = socket_for(client, room)
    assert again.is_connected("/call")
    assert not therapist.is_connected("/call")
    assert db.session.query(RoomSocket).filter_by(room_id=room.id, namespace="/call").count() == 2
    # The student's page hears the therapist arrive again, and not "left" from the replaced socket
    # (which would stop the connection it is making with the new one).
    assert student.names() == ["peer_joined"]


def test_a_socket_row_left_by_a_killed_process_goes_when_its_person_reconnects(app, world, client, live_room,
                                                                             student_client, socket_for):
    room = live_room()
    therapist = _therapist_socket(app, world, client, socket_for, room)
    student_browser = student_client(room)
    student = socket_for(student_browser, room)
    grant_id = student_browser.grant.id
    # A row no process holds (its server was killed): nothing disconnects it, nothing deletes it.
    db.session.add(RoomSocket(room_id=room.id, namespace="/call", sid="gone-with-its-process",
                              actor_kind="grant", actor_id=grant_id))
    db.session.commit()
    student.disconnect(namespace="/call")
    therapist.events()
    again = socket_for(student_browser, room)
    assert again.is_connected("/call")
    assert db.session.query(RoomSocket).filter_by(sid="gone-with-its-process").count() == 0
    assert therapist.names() == ["peer_joined"]
    again.disconnect(namespace="/call")
    assert therapist.names() == ["peer_left"]


def test_a_participant_leaving_is_announced_once_their_last_socket_is_gone(app, world, client, live_room,
                                                                           student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    student.disconnect(namespace="/call")
    assert [(m["name"], m["args"][0]) for m in therapist.events()] == [("peer_left", {"role": "student"})]


# --- ending ----------------------------------------------------------------------------------------


def _ended_within(socks, seconds=2.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(not s.is_connected(ns) for s, ns in socks):
            return True
        time.sleep(0.02)
    return False


def _session_ended_reason(sock, namespace="/call"):
    return [m["args"][0]["reason"] for m in sock.queue if m["name"] == "session_ended" and m["namespace"] == namespace]


def _revoke_video(world):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    request = db.session.query(ConsentRequest).filter_by(student_id=world.own_student.id).order_by(
        ConsentRequest.id.desc()).first()
    revoke(request, world.guardian, scopes=["video_sessions"])


def test_therapist_ends_the_session_for_both(app, world, client, live_room, student_client, socket_for):
    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    started = time.monotonic()
    therapist.emit("end", None, namespace="/call")
    assert _ended_within([(therapist, "/call"), (student, "/call")])
    assert time.monotonic() - started < 2
    assert _session_ended_reason(student) == ["therapist_ended"]
    db.session.refresh(room)
    assert room.status == "ended" and room.ended_reason == "therapist_ended" and room.join_code is None
    assert db.session.query(RoomSocket).filter_by(room_id=room.id).count() == 0


def test_revocation_ends_the_room_and_disconnects_both_within_2s(app, world, client, live_room, student_client,
                                                                 socket_for):
    room, therapist, student_sock = _pair(app, world, client, live_room, student_client, socket_for)
    waiting_http = student_client(room, admitted=False)
    waiting = socket_for(waiting_http, room, namespace="/waiting")
    started = time.monotonic()
    _revoke_video(world)
    assert _ended_within([(therapist, "/call"), (student_sock, "/call"), (waiting, "/waiting")])
    assert time.monotonic() - started < 2
    assert _session_ended_reason(therapist) == ["consent_revoked"]
    assert _session_ended_reason(student_sock) == ["consent_revoked"]
    assert _session_ended_reason(waiting, "/waiting") == ["consent_revoked"]
    room = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert room.status == "ended" and room.ended_reason == "consent_revoked"
    # Afterwards: no signalling, no TURN credentials, no reconnect.
    assert not socket_for(client, room).is_connected("/call")


def test_games_only_revocation_does_not_end_the_call(app, world, client, live_room, student_client, socket_for):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    request = db.session.query(ConsentRequest).filter_by(student_id=world.own_student.id).first()
    revoke(request, world.guardian, scopes=["games"])
    assert therapist.is_connected("/call") and student.is_connected("/call")


def test_therapist_deactivation_ends_the_room_within_2s(app, world, client, live_room, student_client, socket_for):
    from app.auth.services import deactivate_user

    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    started = time.monotonic()
    deactivate_user(world.district_admin, world.therapist, ip=None)
    assert _ended_within([(therapist, "/call"), (student, "/call")])
    assert time.monotonic() - started < 2
    assert _session_ended_reason(student) == ["deactivated"]


def test_ended_room_refuses_events_from_a_lingering_socket(app, world, client, live_room, student_client, socket_for):
    """Even if a disconnect were lost, every event re-checks the room."""
    from sqlalchemy import update

    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    db.session.execute(update(LiveRoom).where(LiveRoom.id == room.id).values(status="ended", ended_reason="closed"))
    db.session.commit()
    assert student.emit("signal", OFFER, namespace="/call", callback=True)["code"] == "closed"
    assert student.emit("ice_servers", None, namespace="/call", callback=True)["code"] == "closed"
    assert therapist.events() == []


def test_room_whose_time_is_over_ends_at_the_next_event_for_both(app, world, client, live_room, student_client,
                                                                 socket_for):
    from datetime import timedelta

    from sqlalchemy import update

    from app.db_types import utcnow

    room, therapist, student = _pair(app, world, client, live_room, student_client, socket_for)
    db.session.execute(update(LiveRoom).where(LiveRoom.id == room.id).values(closes_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    student.emit("media_state", {"muted": False, "camera_off": False}, namespace="/call")
    assert _ended_within([(therapist, "/call"), (student, "/call")])
    assert _session_ended_reason(therapist) == ["closed"]
    room = db.session.get(LiveRoom, room.id, populate_existing=True)
    assert room.status == "ended" and room.ended_reason == "closed"


# --- one student seat; the caseload owns the room ------------------------------------------------


def test_admitting_a_new_grant_revokes_the_older_one_and_closes_its_sockets(app, world, client, live_room,
                                                                            student_client, socket_for):
    """A rejoin from another device (or a classmate who saw the code) is admitted into the one
    student seat: the older grant stops working at once and never hears the call again."""
    from app.sessions import services
    from app.sessions.models import StudentGrant

    room = live_room()
    _therapist_socket(app, world, client, socket_for, room)
    first_client = student_client(room)
    first = socket_for(first_client, room)
    assert first.is_connected("/call")
    newcomer = student_client(room, admitted=False)
    services.admit(room.therapist, room, newcomer.grant)
    assert not first.is_connected("/call")
    assert "session_ended" in first.names()
    db.session.expire_all()
    assert db.session.get(StudentGrant, first_client.grant.id).revoked_at is not None
    assert socket_for(newcomer, room).is_connected("/call")
    assert not socket_for(first_client, room).is_connected("/call")  # the old grant is refused


def test_therapist_taken_off_the_caseload_cannot_open_or_join_the_room(app, world, client, live_room, socket_for):
    from app.districts.models import CaseloadAssignment
    from app.permissions import can_open_room, room_role

    room = live_room()
    assignment = db.session.scalar(db.select(CaseloadAssignment).where(
        CaseloadAssignment.therapist_id == world.therapist.id, CaseloadAssignment.student_id == room.student_id))
    # Ended last year: the student now belongs to someone else.
    assignment.starts_on = assignment.starts_on.replace(year=assignment.starts_on.year - 1)
    assignment.ends_on = assignment.starts_on
    db.session.commit()
    assert room_role(world.therapist, room) is None
    assert not can_open_room(world.therapist, room.appointment)
    login(client, world.therapist)
    assert not socket_for(client, room).is_connected("/call")
