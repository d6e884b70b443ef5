"""Cron jobs: `flask schedule send-reminders` (hourly) and `flask schedule send-teacher-notices`
(hourly or daily). Both are idempotent: a message is claimed before it is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.db_types import utcnow
from app.scheduling import reminders

schedule_cli = AppGroup("schedule", help="Scheduling jobs (run from cron).")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return utcnow()
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def send_reminders(now: datetime) -> dict:
    """Flag telehealth sessions whose consent ended, then send due guardian reminders and agendas."""
    config = current_app.config
    flagged = reminders.flag_and_tell(now)
    guardians = reminders.send_guardian_reminders(now, timedelta(hours=config["SCHEDULE_REMINDER_HOURS"]))
    agendas = reminders.send_therapist_agendas(now, config["SCHEDULE_AGENDA_HOUR"])
    return {"flagged": len(flagged), "guardian_reminders": guardians, "agendas": agendas}


@schedule_cli.command("send-reminders")
@click.option("--now", "now_text", help="ISO time to treat as now (for tests and backfills).")
def send_reminders_command(now_text):
    """Remind opted-in guardians 24 h ahead and send each therapist their day's agenda."""
    result = send_reminders(_parse_now(now_text))
    click.echo(f"Sent {result['guardian_reminders']} guardian reminder(s) and {result['agendas']} agenda(s); "
               f"{result['flagged']} video session(s) now need consent.")


@schedule_cli.command("send-teacher-notices")
@click.option("--now", "now_text", help="ISO time to treat as now (for tests and backfills).")
def send_teacher_notices_command(now_text):
    """Tell teachers, the school day before, when a student will be out of their class."""
    sent = reminders.send_teacher_notices(_parse_now(now_text))
    click.echo(f"Sent {sent} teacher notice(s).")


def register(app: Flask) -> None:
    app.cli.add_command(schedule_cli)
