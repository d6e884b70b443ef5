"""Live-session emails. Minimum necessary: the join link and the session's time, nothing else."""

from __future__ import annotations

from flask import render_template

from app.notifications.services import send_email
from app.scheduling.notify import session_when


def send_join_link(room, guardian, url: str) -> None:
    lang = guardian.preferred_language if guardian.preferred_language in ("en", "es") else "en"
    text = render_template("sessions/email/join_link.txt", room=room, guardian=guardian, url=url,
                           when=session_when(room.appointment, lang), lang=lang)
    subject = ("Enlace para la sesión por video de hoy" if lang == "es" else "Link for today's video session")
    send_email(guardian.email, subject, text)
