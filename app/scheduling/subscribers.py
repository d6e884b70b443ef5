"""What scheduling does when another domain tells it something. Arrows point one way:
scheduling imports consent's signal; consent never imports scheduling."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.consent.signals import consent_revoked
from app.extensions import db


def on_consent_revoked(sender, *, student_id: int, scopes: list[str], at, **_extra) -> None:
    """Video consent withdrawn: future telehealth sessions it covered become `needs_consent`
    (shown on the therapist's calendar) and the student's guardians are told.

    The revocation has already committed; a failure here must not undo it or show the guardian
    an error, so it is logged, and the reminder job's sweep flags the sessions on its next run.
    """
    if "video_sessions" not in scopes:
        return
    from app.scheduling.reminders import flag_and_tell

    try:
        flag_and_tell(at, student_id=student_id)
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not flag sessions after consent was revoked (student %s)", student_id)


def register_subscribers(app: Flask) -> None:
    """Called from create_app. Connecting the same function again (one app per test) is a no-op."""
    consent_revoked.connect(on_consent_revoked)
