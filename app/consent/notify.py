"""Consent emails, each in the recipient's language. Sent after the service call commits."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale

from app.consent.models import ConsentInvitation, ConsentRequest
from app.consent.services import invitation_token
from app.districts.queries import current_therapists
from app.notifications.services import send_email
from app.web import external_url


def _lang(user) -> str:
    return user.preferred_language if user.preferred_language in current_app.config["LANGUAGES"] else "en"


def send_invitation(invitation: ConsentInvitation, kind: str = "request") -> None:
    """kind: "request" (first email or re-send), "unsigned" (reminder) or "expiring"."""
    guardian = invitation.guardian
    token = invitation_token(invitation, current_app.config["SECRET_KEY"])
    link = external_url("consent.invitation", token=token)
    lang = _lang(guardian)
    with force_locale(lang):
        subject = render_template("consent/email/subject.txt", kind=kind, request=invitation.request).strip()
        body = render_template("consent/email/invitation.txt", kind=kind, invitation=invitation,
                               request=invitation.request, link=link, lang=lang,
                               portal=external_url("consent.portal"))
    send_email(invitation.email, subject, body)


def notify_therapists_of_revocation(request: ConsentRequest, scopes: list[str]) -> None:
    """Tell the student's current therapists; the email names no clinical detail."""
    therapists = current_therapists(request.student_id)
    for therapist in therapists:
        body = render_template("consent/email/revoked.txt", therapist=therapist, request=request, scopes=scopes,
                               link=external_url("districts.student", student_id=request.student_id))
        send_email(therapist.email, "A guardian changed a consent in Homeroom", body)
