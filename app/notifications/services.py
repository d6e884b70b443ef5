"""Email. Production sends through Flask-Mail; development and tests write to a local outbox
(a Maildir under instance/outbox) that people read at /dev/outbox and tests read directly."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from flask import current_app
from flask_mail import Message

from app.extensions import mail


def send_email(to: str | list[str], subject: str, text: str, html: str | None = None) -> None:
    recipients = [to] if isinstance(to, str) else list(to)
    message = Message(subject=subject, recipients=recipients, body=text, html=html)
    if current_app.config["MAIL_BACKEND"] == "outbox":
        _outbox().add(message.as_bytes())
    else:
        mail.send(message)


def _outbox() -> mailbox.Maildir:
    path = Path(current_app.config["OUTBOX_DIR"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, create=True)


@dataclass
class OutboxMessage:
    key: str
    to: str
    subject: str
    date: str
    text: str
    html: str | None


def _parse(key: str, raw: bytes) -> OutboxMessage:
    parsed: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return OutboxMessage(
        key=key,
        to=str(parsed["To"]),
        subject=str(parsed["Subject"]),
        date=str(parsed["Date"]),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else None,
    )


def outbox_messages() -> list[OutboxMessage]:
    """Newest first."""
    box = _outbox()
    messages = [_parse(key, box.get_bytes(key)) for key in box.keys()]
    messages.sort(key=lambda m: (box.get_message(m.key).get_date(), m.key), reverse=True)
    return messages


def outbox_message(key: str) -> OutboxMessage | None:
    box = _outbox()
    try:
        return _parse(key, box.get_bytes(key))
    except KeyError:
        return None


def clear_outbox() -> None:
    box = _outbox()
    for key in list(box.keys()):
        box.remove(key)
