"""Read-only consent queries for pages. A fixed number of queries per page, whatever its size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.consent.models import OPEN_STATUSES, ConsentGrant, ConsentInvitation, ConsentRequest
from app.extensions import db

EXPIRING_WITHIN = timedelta(days=30)
FILTERS = ("missing", "pending", "expiring", "active")


@dataclass
class ConsentStatus:
    state: str = "missing"  # "active" | "pending" | "missing"
    scopes: set = field(default_factory=set)
    expires_at: datetime | None = None
    expiring: bool = False

    @property
    def filters(self) -> set[str]:
        tags = {self.state}
        if self.expiring:
            tags.add("expiring")
        return tags


def consent_statuses(student_ids: list[int], now: datetime) -> dict[int, ConsentStatus]:
    """Consent status of many students in two queries."""
    statuses = {sid: ConsentStatus() for sid in student_ids}
    if not student_ids:
        return statuses
    grants = db.session.execute(
        select(ConsentGrant.student_id, ConsentGrant.scope, ConsentGrant.expires_at).where(
            ConsentGrant.student_id.in_(student_ids),
            ConsentGrant.granted_at <= now,
            ConsentGrant.expires_at > now,
            or_(ConsentGrant.revoked_at.is_(None), ConsentGrant.revoked_at > now),
        )
    ).all()
    for student_id, scope, expires_at in grants:
        status = statuses[student_id]
        status.state = "active"
        status.scopes.add(scope)
        status.expires_at = max(status.expires_at, expires_at) if status.expires_at else expires_at
    for status in statuses.values():
        if status.expires_at is not None:
            status.expiring = status.expires_at <= now + EXPIRING_WITHIN
    pending = db.session.scalars(
        select(ConsentRequest.student_id).where(
            ConsentRequest.student_id.in_(student_ids),
            ConsentRequest.status.in_(OPEN_STATUSES),
            ConsentRequest.expires_at > now,
        )
    ).all()
    for student_id in pending:
        if statuses[student_id].state == "missing":
            statuses[student_id].state = "pending"
    return statuses


def requests_for_student(student_id: int) -> list[ConsentRequest]:
    return list(
        db.session.scalars(
            select(ConsentRequest)
            .where(ConsentRequest.student_id == student_id)
            .options(
                selectinload(ConsentRequest.invitations).joinedload(ConsentInvitation.guardian),
                selectinload(ConsentRequest.signatures),
                selectinload(ConsentRequest.grants),
            )
            .order_by(ConsentRequest.created_at.desc(), ConsentRequest.id.desc())
        )
    )


def pending_invitations(guardian_id: int, now: datetime) -> list[ConsentInvitation]:
    return list(
        db.session.scalars(
            select(ConsentInvitation)
            .join(ConsentRequest)
            .where(
                ConsentInvitation.guardian_id == guardian_id,
                ConsentInvitation.responded_at.is_(None),
                ConsentRequest.status.in_(OPEN_STATUSES),
                ConsentRequest.expires_at > now,
            )
            .order_by(ConsentInvitation.sent_at.desc())
        )
    )
