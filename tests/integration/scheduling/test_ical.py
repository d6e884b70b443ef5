"""The private iCal feed: subscribe, parse it back, initials only, regenerate and revoke."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from app.db_types import utcnow
from app.extensions import db
from app.scheduling import booking, feeds
from app.scheduling.models import CalendarFeed
from app.scheduling.services import local_today
from tests.conftest import login, post
from tests.integration.scheduling.conftest import t


def _future_monday():
    today = local_today(utcnow(), "America/Los_Angeles")
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def _feed_url(client) -> str:
    page = post(client, "/schedule/feed/regenerate").get_data(as_text=True)
    match = re.search(r'value="http://localhost(/schedule/ical/[^"]+\.ics)"', page)
    assert match, page[-2000:]
    return match.group(1)


def test_therapist_subscribes_and_the_feed_parses_back_with_initials_only(app, client, world, bells, available):
    monday = _future_monday()
    [kept] = booking.book(world.therapist, world.own_student, first_date=monday, start_time=t("10:00"),
                          duration_minutes=30, modality="in_person").appointments
    [dropped] = booking.book(world.therapist, world.other_student, first_date=monday, start_time=t("11:00"),
                             duration_minutes=45, modality="in_person").appointments
    booking.cancel(world.therapist, dropped, party="therapist", reason="Training")
    login(client, world.therapist)
    assert "Your feed is <strong>off</strong>" in client.get("/schedule/feed").get_data(as_text=True)
    url = _feed_url(client)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43  # 256 random bits, URL-safe base64

    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    parsed = Calendar.from_ical(response.data)
    events = {str(e["uid"]): e for e in parsed.walk("VEVENT")}
    event = events[f"appointment-{kept.id}@homeroom"]
    assert str(event["summary"]) == "Session O.S. (in person)"
    assert event.decoded("dtstart") == kept.starts_at and event.decoded("dtend") == kept.ends_at
    assert str(events[f"appointment-{dropped.id}@homeroom"]["status"]) == "CANCELLED"
    for name in ("Own", "Student", "Other", world.own_student.last_name):
        assert name not in body
    # Only the hash of the token is stored.
    stored = db.session.scalar(select(CalendarFeed).where(CalendarFeed.therapist_id == world.therapist.id))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in stored.token_hash


def test_a_new_link_replaces_the_old_and_turning_off_ends_it(app, client, world):
    login(client, world.therapist)
    old = _feed_url(client)
    new = _feed_url(client)
    reader = app.test_client()
    assert reader.get(old).status_code == 404
    assert reader.get(new).status_code == 200
    response = post(client, "/schedule/feed/revoke")
    assert response.status_code == 302
    assert reader.get(new).status_code == 404
    assert reader.get("/schedule/ical/not-a-token.ics").status_code == 404


def test_a_deactivated_therapist_s_feed_stops(app, world):
    token = feeds.issue_feed(world.therapist)
    world.therapist.active = False
    db.session.commit()
    assert app.test_client().get(f"/schedule/ical/{token}.ics").status_code == 404


def test_the_feed_is_rate_limited(app_config, make_app):
    limited = make_app(**{**app_config, "SCHEDULE_ICAL_RATE_LIMIT": "2 per hour"})
    client = limited.test_client()
    statuses = [client.get("/schedule/ical/guess.ics").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]
