"""Cron jobs: `flask consent expire-due` and `flask consent send-reminders`. Both are idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.consent import notify, services
from app.db_types import utcnow

consent_cli = AppGroup("consent", help="Consent jobs (run from cron).")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return utcnow()
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@consent_cli.command("expire-due")
@click.option("--now", "now_text", help="ISO time to treat as now (for tests and backfills).")
def expire_due_command(now_text):
    """Mark consents whose end date has passed as expired."""
    count = services.expire_due(_parse_now(now_text))
    click.echo(f"Expired {count} consent request(s).")


def send_reminders(now: datetime) -> int:
    config = current_app.config
    due = services.due_reminders(
        now,
        unsigned_after=timedelta(days=config["CONSENT_REMINDER_AFTER_DAYS"]),
        expiring_within=timedelta(days=config["CONSENT_EXPIRY_WARNING_DAYS"]),
    )
    sent = 0
    for kind, _request, invitation in due:
        if services.mark_reminded(kind, invitation, now):  # claimed first: never sent twice
            notify.send_invitation(invitation, kind)
            sent += 1
    return sent


@consent_cli.command("send-reminders")
@click.option("--now", "now_text", help="ISO time to treat as now (for tests and backfills).")
def send_reminders_command(now_text):
    """Remind guardians of unsigned requests and of consents about to expire."""
    sent = send_reminders(_parse_now(now_text))
    click.echo(f"Sent {sent} reminder(s).")


def register(app: Flask) -> None:
    app.cli.add_command(consent_cli)
