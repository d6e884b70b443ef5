"""What live sessions do when another domain (or a room) signals. Arrows point one way:
sessions imports consent's and auth's signals; they never import sessions."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.auth.services import user_deactivated
from app.consent.signals import consent_revoked
from app.extensions import db
from app.sessions.signals import room_ended


def on_consent_revoked(sender, *, student_id: int, scopes: list[str], at=None, **_extra) -> None:
    """Video consent withdrawn: every room of that student ends now, for both people."""
    if "video_sessions" not in scopes:
        return
    from app.sessions.models import LiveRoom
    from app.sessions.services import end_rooms_where

    try:
        end_rooms_where(LiveRoom.student_id == student_id, reason="consent_revoked", now=at)
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not end live rooms after consent was revoked (student %s)", student_id)


def on_user_deactivated(user, **_extra) -> None:
    """A deactivated therapist's rooms end at once."""
    if getattr(user, "role", None) != "therapist":
        return
    from app.sessions.models import LiveRoom
    from app.sessions.services import end_rooms_where

    try:
        end_rooms_where(LiveRoom.therapist_id == user.id, reason="deactivated")
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not end live rooms of a deactivated user (%s)", user.id)


def on_room_ended(room, *, room_id: int, reason: str, **_extra) -> None:
    """Every socket of an ended room, in every namespace and process, hears why and is cut off."""
    from app.sessions.access import close_room_sockets

    try:
        close_room_sockets(room_id, reason)
    except Exception:  # noqa: BLE001 - the room has ended; sockets are refused on their next event anyway
        db.session.rollback()
        current_app.logger.exception("could not close the sockets of room %s", room_id)


def register_subscribers(app: Flask) -> None:
    """Called from create_app. Connecting the same function again (one app per test) is a no-op."""
    consent_revoked.connect(on_consent_revoked)
    user_deactivated.connect(on_user_deactivated)
    room_ended.connect(on_room_ended)
