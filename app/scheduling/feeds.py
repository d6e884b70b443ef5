"""Private iCal feeds: one per therapist, at a URL holding a random 256-bit token.

Only the token's SHA-256 is stored, so the URL is shown once, when it is made. Making a new one
replaces the old (which stops working at once); revoking deletes it. Events carry the student's
initials and the modality, never a name or anything clinical: calendar apps sync to phones and
share with assistants.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.audit.services import record
from app.auth.models import User
from app.db_types import utcnow
from app.extensions import db
from app.scheduling.models import Appointment, CalendarFeed

PAST = timedelta(days=30)
FUTURE = timedelta(days=180)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(therapist: User) -> CalendarFeed | None:
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.therapist_id == therapist.id))


def issue_feed(therapist: User, *, ip: str | None = None, now: datetime | None = None) -> str:
    """A new feed token (returned once); any earlier URL of this therapist stops working."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    feed = feed_of(therapist)
    if feed is None:
        feed = CalendarFeed(district_id=therapist.district_id, therapist_id=therapist.id)
        db.session.add(feed)
    feed.token_hash, feed.created_at, feed.last_used_at = _hash(token), now, None
    db.session.flush()
    record("schedule.feed_issued", actor=therapist, target=feed, ip=ip, now=now)
    db.session.commit()
    return token


def revoke_feed(therapist: User, *, ip: str | None = None, now: datetime | None = None) -> bool:
    feed = feed_of(therapist)
    if feed is None:
        return False
    record("schedule.feed_revoked", actor=therapist, target=feed, ip=ip, now=now or utcnow())
    db.session.delete(feed)
    db.session.commit()
    return True


def feed_for_token(token: str) -> CalendarFeed | None:
    """The feed a URL names, if it is current and its therapist still active."""
    if not token or len(token) > 100:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
    if feed is None:
        return None
    therapist = db.session.get(User, feed.therapist_id)
    return feed if therapist is not None and therapist.active else None


def _initials(appointment: Appointment) -> str:
    return ".".join(appointment.student.initials) + "."


def feed_ics(feed: CalendarFeed, *, now: datetime | None = None) -> bytes:
    """The therapist's sessions from 30 days ago to 180 days ahead as an iCalendar file."""
    now = now or utcnow()
    appointments = db.session.scalars(
        select(Appointment)
        .where(Appointment.therapist_id == feed.therapist_id, Appointment.starts_at >= now - PAST,
               Appointment.starts_at < now + FUTURE)
        .options(joinedload(Appointment.student), joinedload(Appointment.school))
        .order_by(Appointment.starts_at)
    ).all()
    cal = Calendar()
    cal.add("prodid", "-//Homeroom//Sessions//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "Homeroom sessions")
    for appointment in appointments:
        event = Event()
        video = appointment.modality == "telehealth"
        summary = f"Session {_initials(appointment)} ({'video' if video else 'in person'})"
        if appointment.status == "needs_consent":
            summary += " – needs consent"
        event.add("uid", f"appointment-{appointment.id}@homeroom")
        event.add("dtstamp", appointment.updated_at)
        event.add("last-modified", appointment.updated_at)
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", summary)
        event.add("location", "Homeroom video" if video else appointment.school.name)
        event.add("status", {"cancelled": "CANCELLED", "needs_consent": "TENTATIVE"}.get(appointment.status,
                                                                                       "CONFIRMED"))
        cal.add_component(event)
    feed.last_used_at = now
    db.session.commit()
    return cal.to_ical()
