"""Writing and reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app.audit.models import AuditEvent
from app.db_types import utcnow
from app.extensions import db

# Keys that may never appear in audit details: the log is for who/what/when, not clinical content.
_FORBIDDEN_DETAIL_KEYS = {"note", "notes", "mood", "password", "totp", "token", "body", "message"}


def actor_label(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "anonymous"
    label = getattr(actor, "audit_label", None)
    if label:
        return label
    return f"{actor.role}:{actor.id}"


def record(
    action: str,
    *,
    actor=None,
    district_id: int | None = None,
    target=None,
    student_id: int | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the current transaction; it commits with the change it describes."""
    bad = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if bad:
        raise ValueError(f"audit details may not carry {sorted(bad)}")
    user_id = getattr(actor, "id", None) if getattr(actor, "role", None) else None
    event = AuditEvent(
        occurred_at=now or utcnow(),
        district_id=district_id if district_id is not None else getattr(actor, "district_id", None),
        actor_id=user_id,
        actor_label=actor_label(actor),
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=getattr(target, "id", None),
        student_id=student_id,
        ip=ip,
        details=details,
    )
    db.session.add(event)
    return event


def filtered_events(
    district_id: int,
    *,
    actor_id: int | None = None,
    student_id: int | None = None,
    action: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Select:
    query = select(AuditEvent).where(AuditEvent.district_id == district_id)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if student_id:
        query = query.where(AuditEvent.student_id == student_id)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if start:
        query = query.where(AuditEvent.occurred_at >= start)
    if end:
        query = query.where(AuditEvent.occurred_at < end)
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
