"""Cron job: `flask sessions close-due` (every minute). Idempotent.

Rooms otherwise end lazily, at the first event or page view after their time. This ends every
room past its `closes_at` as the therapist's End does: the room is marked ended ("closed"), its
link, code and grants stop working, and `room_ended` closes its sockets. With REDIS_URL set the
emits and disconnects go through the Socket.IO message queue to whichever server process holds
each socket.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask
from flask.cli import AppGroup

from app.db_types import utcnow
from app.sessions import services

sessions_cli = AppGroup("sessions", help="Live-session jobs (run from cron or a systemd timer).")


def _parse_now(value: str | None) -> datetime:
    if not value:
        return utcnow()
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@sessions_cli.command("close-due")
@click.option("--now", "now_text", help="ISO time to treat as now (for tests and backfills).")
def close_due_command(now_text):
    """End every live room whose session time is over and disconnect its sockets."""
    ended = services.close_due(_parse_now(now_text))
    click.echo(f"Closed {len(ended)} room(s).")


def register(app: Flask) -> None:
    app.cli.add_command(sessions_cli)
