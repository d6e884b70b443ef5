"""Live-session pages over HTTP: opening a room, joining by code or link, assent, waiting, the
room page, the consent gate and the join rate limits."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.db_types import utcnow
from app.extensions import db
from app.sessions import services
from app.sessions.models import LiveRoom, StudentGrant
from tests.conftest import get_csrf, login, post


def _join(client, code):
    return client.post("/join", data={"code": code, "csrf_token": get_csrf(client, "/join")})


def test_therapist_can_open_the_room_from_the_appointment_page(app, world, client, grant_consent):
    from app.scheduling.models import Appointment

    grant_consent(world.own_student, world.therapist, now=utcnow() - timedelta(minutes=5))
    start = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=5)
    appointment = Appointment(district_id=world.district.id, school_id=world.school_a.id, therapist_id=world.therapist.id,
                              student_id=world.own_student.id, starts_at=start, ends_at=start + timedelta(minutes=30),

                              local_date=start.astimezone(ZoneInfo(world.school_a.timezone)).date(),
                              modality="telehealth", status="scheduled",
                              created_by_id=world.therapist.id)
    db.session.add(appointment)
    db.session.commit()
    login(client, world.therapist)
    page = client.get(f"/schedule/appointments/{appointment.id}").get_data(as_text=True)
    assert "Open the video room" in page
    response = post(client, f"/sessions/appointments/{appointment.id}/open")
    room = db.session.query(LiveRoom).one()
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/sessions/rooms/{room.id}")
    page = client.get(f"/sessions/rooms/{room.id}").get_data(as_text=True)
    assert room.join_code in page and 'class="activities"' in page and "End session" in page


def test_student_can_join_by_code_give_assent_wait_and_enter(app, world, client, live_room):
    room = live_room()
    response = _join(client, room.join_code.lower())
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/sessions/rooms/{room.id}/ready")
    assert client.get(f"/sessions/rooms/{room.id}").headers["Location"].endswith("/waiting")
    assert client.get(f"/sessions/rooms/{room.id}/waiting").headers["Location"].endswith("/ready")
    page = client.get(f"/sessions/rooms/{room.id}/ready").get_data(as_text=True)
    assert "Hi! Your counselor" in page and "Own" not in page and "Nobody records it" in page  # 10: younger wording
    token = get_csrf(client, f"/sessions/rooms/{room.id}/ready")
    response = client.post(f"/sessions/rooms/{room.id}/ready", data={"choice": "yes", "csrf_token": token})
    assert response.headers["Location"].endswith(f"/sessions/rooms/{room.id}/waiting")
    page = client.get(f"/sessions/rooms/{room.id}/waiting").get_data(as_text=True)
    assert "waiting room" in page and 'id="preview"' in page
    grant = db.session.query(StudentGrant).one()
    assert grant.assent == "yes" and grant.via == "code"
    services.admit(world.therapist, room, grant)
    assert client.get(f"/sessions/rooms/{room.id}/waiting").headers["Location"].endswith(f"/sessions/rooms/{room.id}")
    page = client.get(f"/sessions/rooms/{room.id}").get_data(as_text=True)
    assert "Your session with" in page and "End session" not in page and 'data-role="student"' in page
    # Joining again with the code keeps the same grant.
    _join(client, room.join_code)
    assert db.session.query(StudentGrant).count() == 1


def test_student_who_says_not_now_is_not_waiting(app, world, client, live_room):
    room = live_room()
    _join(client, room.join_code)
    token = get_csrf(client, f"/sessions/rooms/{room.id}/ready")
    client.post(f"/sessions/rooms/{room.id}/ready", data={"choice": "not_now", "csrf_token": token})
    page = client.get(f"/sessions/rooms/{room.id}/ready").get_data(as_text=True)
    assert "That's okay" in page
    assert services.waiting_grants(room) == []


def test_student_can_join_by_link_with_a_button_not_on_get(app, world, client, live_room):
    room = live_room()
    token = services.issue_join_link(world.therapist, room)
    page = client.get(f"/join/{token}")
    assert page.status_code == 200 and db.session.query(StudentGrant).count() == 0  # no state change on GET
    response = client.post(f"/join/{token}", data={"csrf_token": get_csrf(client, f"/join/{token}")})
    assert response.status_code == 302 and db.session.query(StudentGrant).one().via == "link"
    bad = client.post("/join/not-a-token", data={"csrf_token": get_csrf(client, "/join/not-a-token")})
    assert "does not work" in bad.get_data(as_text=True)


def test_wrong_code_is_refused_plainly(app, world, client, live_room):
    live_room()
    page = _join(client, "ZZZZZZ").get_data(as_text=True)
    assert "does not match a session that is open now" in page


def test_join_code_attempts_are_rate_limited_per_ip(app, world, client, live_room):
    app.config["JOIN_LIMIT_PER_IP"] = "5 per 10 minutes"
    room = live_room()
    token = get_csrf(client, "/join")
    statuses = [client.post("/join", data={"code": "ZZZZZZ", "csrf_token": token}).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    # Even the right code waits now: the limit is on the address.
    assert client.post("/join", data={"code": room.join_code, "csrf_token": token}).status_code == 429


def test_join_is_rate_limited_per_room(app, world, live_room):
    app.config["JOIN_LIMIT_PER_ROOM"] = "3 per 10 minutes"
    room = live_room()
    statuses = []
    for _ in range(4):
        browser = app.test_client()  # new browsers (no grant yet) from anywhere
        statuses.append(_join(browser, room.join_code).status_code)
    assert statuses == [302, 302, 302, 429]


def test_consent_gate_says_why_and_nothing_works(app, world, client, live_room):
    from app.consent.models import ConsentRequest
    from app.consent.services import revoke

    room = live_room()
    student = app.test_client()
    _join(student, room.join_code)
    login(client, world.therapist)
    revoke(db.session.query(ConsentRequest).first(), world.guardian, scopes=["video_sessions"])
    # Revocation ended the room; a new room cannot be opened without consent either.
    page = client.get(f"/sessions/rooms/{room.id}").get_data(as_text=True)
    assert "guardian changed their permission" in page
    page = student.get(f"/sessions/rooms/{room.id}/waiting").get_data(as_text=True)
    assert "guardian changed their permission" in page


def test_room_page_without_consent_explains(app, world, client, live_room):
    from sqlalchemy import update

    from app.consent.models import ConsentGrant

    room = live_room()
    db.session.execute(update(ConsentGrant).values(revoked_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()  # consent ended without the signal (e.g. it expired)
    login(client, world.therapist)
    response = client.get(f"/sessions/rooms/{room.id}")
    assert response.status_code == 403 and "consent" in response.get_data(as_text=True)


def test_therapist_gets_a_fresh_link_as_json_and_can_end(app, world, client, live_room):
    room = live_room()
    login(client, world.therapist)
    token = get_csrf(client, f"/sessions/rooms/{room.id}")
    reply = client.post(f"/sessions/rooms/{room.id}/link", data={"csrf_token": token},
                        headers={"Accept": "application/json"}).get_json()
    assert reply["ok"] and reply["url"].startswith("http://localhost/join/")
    assert services.find_room_by_token(reply["url"].rsplit("/", 1)[1]).id == room.id
    reply = client.post(f"/sessions/rooms/{room.id}/email-link", data={"csrf_token": token},
                        headers={"Accept": "application/json"}).get_json()
    assert reply["ok"] and "1 guardian" in reply["message"]
    assert client.post(f"/sessions/rooms/{room.id}/end", data={"csrf_token": token}).status_code == 302
    db.session.refresh(room)
    assert room.status == "ended" and room.ended_reason == "therapist_ended"
    assert "You can close" not in client.get(f"/sessions/rooms/{room.id}").get_data(as_text=True)


def test_state_changes_need_csrf(app, world, client, live_room):
    room = live_room()
    login(client, world.therapist)
    assert client.post(f"/sessions/rooms/{room.id}/end").status_code == 400
    assert client.post("/join", data={"code": room.join_code}).status_code == 400
    assert db.session.query(StudentGrant).count() == 0


def test_therapist_can_open_the_room_from_todays_agenda(app, world, client, grant_consent):
    from app.scheduling.models import Appointment

    grant_consent(world.own_student, world.therapist, now=utcnow() - timedelta(minutes=5))
    start = utcnow().replace(second=0, microsecond=0)
    appointment = Appointment(district_id=world.district.id, school_id=world.school_a.id, therapist_id=world.therapist.id,
                              student_id=world.own_student.id, starts_at=start, ends_at=start + timedelta(minutes=30),

                              local_date=start.astimezone(ZoneInfo(world.school_a.timezone)).date(),
                              modality="telehealth", status="scheduled",
                              created_by_id=world.therapist.id)
    db.session.add(appointment)
    db.session.commit()
    login(client, world.therapist)
    page = client.get("/home").get_data(as_text=True)
    assert f"/sessions/appointments/{appointment.id}/open" in page
