"""Dashboards per district and per school, and a CSV of each of their tables."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from app import permissions
from app.audit.services import record
from app.csv_export import csv_response
from app.db_types import utcnow
from app.districts import dashboards
from app.districts.models import School
from app.districts.views import bp
from app.extensions import db
from app.permissions import authorize, requires
from app.tenancy import get_in_district
from app.web import client_ip

MAX_RANGE = timedelta(days=3 * 366)


def _range(district, today: date) -> tuple[date, date]:
    """The start and end dates asked for, or the school year to date; never more than three years."""
    default_start, default_end = dashboards.default_range(district, today)

    def parse(name: str, fallback: date) -> date:
        try:
            return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d").date()
        except ValueError:
            return fallback

    start, end = parse("start", default_start), parse("end", default_end)
    if end < start:
        start, end = end, start
    if end - start > MAX_RANGE:
        start = end - MAX_RANGE
    return start, end


def _build(school: School | None) -> dashboards.Dashboard:
    now = utcnow()
    start, end = _range(current_user.district, now.date())
    board = dashboards.build(current_user.district, start=start, end=end, now=now, school=school)
    # A district dashboard recomputed after a change stores its new snapshot (a cache of figures
    # derived from committed rows, not a change of anyone's data): keep it for the next view.
    db.session.commit()
    return board


def _render(board: dashboards.Dashboard):
    """A school dashboard whole; a district dashboard one page of schools (by name) at a time, with the
    district's totals and CSV files over every school."""
    page = None if board.school else board.school_page(request.args.get("schools_page", 1, type=int) or 1)
    shown = None if page is None else page.ids
    dates = {"start": board.start.isoformat(), "end": board.end.isoformat()}
    links = {} if page is None else {
        school_id: url_for("districts.school_dashboard", school_id=school_id, **dates) for school_id in page.ids}
    charts, rows = [], {}
    for table in board.tables:
        shown_rows = table.rows_of(shown)
        charts.append(table.chart_data(shown_rows))
        first, *numbers = [key for key, _label in table.columns]
        # (link to the school's dashboard or None, the row's label, its numbers): the template only prints
        rows[table.key] = [(links.get(row.get("school_id")), row[first], [row[k] for k in numbers])
                           for row in shown_rows]
    return render_template("districts/dashboard.html", board=board, charts=charts, rows=rows, page=page,
                           dates=dates)


def _export(board: dashboards.Dashboard, table_key: str, prefix: str):
    try:
        table = board.table(table_key)
    except StopIteration:
        abort(404)
    record("dashboard.exported", actor=current_user, ip=client_ip(), table=table_key,
           school_id=board.school.id if board.school else None, start=board.start.isoformat(),
           end=board.end.isoformat())
    db.session.commit()
    filename = f"homeroom-{prefix}-{table_key}-{board.start.isoformat()}-{board.end.isoformat()}.csv"
    return csv_response(filename, [label for _key, label in table.columns], table.csv_rows())


@bp.route("/dashboard")
@requires(permissions.can_view_dashboards)
def dashboard():
    if not permissions.can_view_district_dashboard(current_user):
        return redirect(url_for("districts.school_dashboard", school_id=current_user.school_id))
    return _render(_build(None))


@bp.route("/dashboard/<table>.csv")
@requires(permissions.can_view_district_dashboard)
def dashboard_csv(table: str):
    return _export(_build(None), table, "district")


def _school(school_id: int) -> School:
    school = get_in_district(School, school_id, current_user.district_id)
    authorize(permissions.can_view_school_dashboard(current_user, school), not_found=True)
    return school


@bp.route("/dashboard/schools/<int:school_id>")
@requires(permissions.can_view_dashboards)
def school_dashboard(school_id: int):
    return _render(_build(_school(school_id)))


@bp.route("/dashboard/schools/<int:school_id>/<table>.csv")
@requires(permissions.can_view_dashboards)
def school_dashboard_csv(school_id: int, table: str):
    return _export(_build(_school(school_id)), table, f"school-{school_id}")
