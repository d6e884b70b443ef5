from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, Response, render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import permissions
from app.audit.models import AuditEvent
from app.audit.services import filtered_events, record
from app.auth.models import User
from app.csv_export import csv_text
from app.extensions import db
from app.permissions import requires
from app.web import client_ip

bp = Blueprint("audit", __name__, url_prefix="/audit")

EXPORT_LIMIT = 100_000


def _date_arg(name: str):
    value = request.args.get(name, "")
    try:
        return datetime.strptime(value, "%Y-%m-%d").date() if value else None
    except ValueError:
        return None


def _filters() -> dict:
    start, end = _date_arg("start"), _date_arg("end")
    return {
        "actor_id": request.args.get("actor", type=int),
        "student_id": request.args.get("student", type=int),
        "action": (request.args.get("action") or "").strip()[:60] or None,
        "start": datetime.combine(start, time.min, tzinfo=UTC) if start else None,
        "end": datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1) if end else None,
    }


@bp.route("/")
@requires(permissions.can_view_audit_log)
def events():
    filters = _filters()
    query = filtered_events(current_user.district_id, **filters).options(
        joinedload(AuditEvent.actor), joinedload(AuditEvent.student)
    )
    page = db.paginate(query, page=request.args.get("page", 1, type=int) or 1, per_page=50, error_out=False)
    staff = db.session.scalars(
        select(User).where(User.district_id == current_user.district_id, User.role != "guardian").order_by(User.name)
    ).all()
    return render_template("audit/events.html", page=page, staff=staff, args=request.args)


@bp.route("/export.csv")
@requires(permissions.can_view_audit_log)
def export():
    filters = _filters()
    events = db.session.scalars(filtered_events(current_user.district_id, **filters).limit(EXPORT_LIMIT)).all()
    text = csv_text(
        ["id", "occurred_at_utc", "actor", "action", "target_type", "target_id", "student_id", "ip", "details"],
        ([event.id, event.occurred_at.isoformat(), event.actor_label, event.action,
          event.target_type or "", event.target_id or "", event.student_id or "", event.ip or "",
          ";".join(f"{k}={v}" for k, v in sorted((event.details or {}).items()))] for event in events),
    )
    # Prefixed: "action" and "student_id" are record()'s own arguments (an action filter used to crash the export).
    record("audit.exported", actor=current_user, ip=client_ip(),
           **{f"filter_{k}": str(v) for k, v in filters.items() if v})
    db.session.commit()
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=homeroom-audit.csv"},
    )
