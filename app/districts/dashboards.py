"""District and school dashboards: aggregate SQL (GROUP BY), a fixed number of queries per page.

Definitions (also in docs/DISTRICT_ADMIN.md):
* sessions scheduled: every appointment whose school-local date is in the range, whatever became of it;
* delivered: attendance recorded as attended; no-shows: attendance no_show; cancellations: status cancelled;
* minutes planned: the booked length of every session in the range except cancelled ones;
  minutes delivered: the minutes recorded for attended sessions;
* consent coverage, at the moment the page is drawn, for active students (consent_is_active semantics,
  any scope): active (a grant in force), expiring (active, and the last grant ends within 30 days),
  pending (no grant in force, an open request not yet expired), missing (neither);
* caseloads: open caseload assignments today (the date of `now`, UTC in the views).

The district dashboard reads its consent and caseload tables from a per-district snapshot
(app/districts/snapshots.py), discarded with any change to the rows they count and valid until the
next instant at which a figure changes by itself (consent_changes_next, next_midnight).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, distinct, func, or_, select

from app.auth.models import User
from app.consent.models import OPEN_STATUSES, ConsentGrant, ConsentRequest
from app.consent.queries import EXPIRING_WITHIN
from app.districts import snapshots
from app.districts.models import CaseloadAssignment, District, School, Student
from app.districts.rollups import COUNTERS, SessionDayTotal, cached_sums
from app.extensions import db
from app.scheduling.models import Appointment


@dataclass
class Table:
    """One dashboard table: drawn as HTML, as a chart and as CSV from the same rows."""

    key: str
    title: str
    columns: list[tuple[str, str]]  # (key, label); the first column labels the row
    rows: list[dict] = field(default_factory=list)
    chart: dict = field(default_factory=dict)  # {"type": "bar", "series": [column keys], "stacked": bool}

    def totals(self) -> dict:
        total = {self.columns[0][0]: "Total"}
        for key, _label in self.columns[1:]:
            values = [r.get(key) for r in self.rows]
            total[key] = sum(v for v in values if isinstance(v, int | float)) if values else 0
        # Ratios are recomputed from the totals, never summed.
        if "percent" in total:
            planned = total["minutes_planned"]
            total["percent"] = round(100 * total["minutes_delivered"] / planned) if planned else 0
        if "average" in total:
            total["average"] = round(total["on_caseload"] / total["therapists"], 1) if total["therapists"] else 0
        return total

    def csv_rows(self) -> list[list]:
        keys = [k for k, _ in self.columns]
        return [[row.get(k, "") for k in keys] for row in [*self.rows, self.totals()]]

    def rows_of(self, school_ids: set[int] | None) -> list[dict]:
        """The rows of these schools (a district dashboard's page), or every row (None)."""
        if school_ids is None:
            return self.rows
        return [r for r in self.rows if r.get("school_id") in school_ids]

    def chart_data(self, rows: list[dict] | None = None) -> dict:
        labels = {k: v for k, v in self.columns}
        rows = self.rows if rows is None else rows
        return {
            "id": self.key,
            "type": self.chart.get("type", "bar"),
            "stacked": self.chart.get("stacked", False),
            "labels": [str(r[self.columns[0][0]]) for r in rows],
            "datasets": [{"label": labels[k], "data": [r.get(k) or 0 for r in rows]}
                         for k in self.chart.get("series", [])],
        }


def school_year_start(district: District, today: date) -> date:
    """August 1 before the district's school-year end (US school years start in August)."""
    end = district.school_year_end
    start = date(end.year - 1, 8, 1)
    if start > today:  # the configured year has not started: use the current one
        start = date(today.year if today.month >= 8 else today.year - 1, 8, 1)
    return start


def default_range(district: District, today: date) -> tuple[date, date]:
    return school_year_start(district, today), today


def _minutes(start_col, end_col):
    """Whole minutes between two timestamp columns, on SQLite and PostgreSQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end_col - start_col) / 60
    return func.round((func.julianday(end_col) - func.julianday(start_col)) * 1440)


def _int(value) -> int:
    return int(round(value or 0))


def _district_sessions(district_id: int, start: date, end: date) -> list[tuple]:
    """Per school, from the per-day rollup (app/districts/rollups.py): ~200 rows per school a year,
    summed once per change of the district's sessions and range (rollups.cached_sums)."""
    t = SessionDayTotal

    def compute():
        return db.session.execute(
            select(t.school_id, *(func.sum(getattr(t, c)) for c in COUNTERS))
            .where(t.district_id == district_id, t.local_date >= start, t.local_date <= end)
            .group_by(t.school_id)
        ).all()

    return cached_sums(district_id, start, end, compute)


def _school_sessions(school: School, start: date, end: date) -> list[tuple]:
    """Per therapist of one school, from its appointments (ix_appointments_school_local_date)."""
    cancelled = Appointment.status == "cancelled"
    return db.session.execute(
        select(
            Appointment.therapist_id,
            func.count(),
            func.sum(case((Appointment.attendance == "attended", 1), else_=0)),
            func.sum(case((Appointment.attendance == "no_show", 1), else_=0)),
            func.sum(case((cancelled, 1), else_=0)),
            func.sum(case((cancelled, 0), else_=_minutes(Appointment.starts_at, Appointment.ends_at))),
            func.sum(case((Appointment.attendance == "attended", func.coalesce(Appointment.minutes_delivered, 0)),
                          else_=0)),
        )
        .where(Appointment.school_id == school.id, Appointment.district_id == school.district_id,
               Appointment.local_date >= start, Appointment.local_date <= end)
        .group_by(Appointment.therapist_id)
    ).all()


def sessions_table(district_id: int, start: date, end: date, *, school: School | None,
                   names: dict[int, str]) -> Table:
    """Sessions per school (district dashboard) or per therapist (school dashboard): one query each."""
    if school is None:
        found = _district_sessions(district_id, start, end)
    else:
        found = _school_sessions(school, start, end)
        names = names | dict(db.session.execute(
            select(User.id, User.name).where(User.id.in_([r[0] for r in found] or [0]))).all())
    rows = []
    for key, scheduled, delivered, no_show, cancelled_n, planned, minutes in found:
        rows.append({"name": names.get(key, f"#{key}"), "scheduled": _int(scheduled), "delivered": _int(delivered),
                     "no_shows": _int(no_show), "cancelled": _int(cancelled_n), "minutes_planned": _int(planned),
                     "minutes_delivered": _int(minutes), **({} if school else {"school_id": key})})
    rows = [r for r in rows if r["scheduled"]]  # a day whose sessions all moved away leaves zero totals
    rows.sort(key=lambda r: r["name"])
    return Table(
        "sessions", "Sessions", [("name", "Therapist" if school else "School"), ("scheduled", "Scheduled"),
                                 ("delivered", "Delivered"), ("no_shows", "No-shows"), ("cancelled", "Cancelled"),
                                 ("minutes_planned", "Minutes planned"), ("minutes_delivered", "Minutes delivered")],
        rows, {"type": "bar", "series": ["delivered", "no_shows", "cancelled"], "stacked": True},
    )


def minutes_table(sessions: Table) -> Table:
    columns = [sessions.columns[0], ("minutes_planned", "Minutes planned"), ("minutes_delivered", "Minutes delivered"),
               ("percent", "Delivered (% of planned)")]
    rows = [{**{k: r[k] for k, _ in columns[:3]},
             "percent": round(100 * r["minutes_delivered"] / r["minutes_planned"]) if r["minutes_planned"] else 0,
             **({"school_id": r["school_id"]} if "school_id" in r else {})}
            for r in sessions.rows]
    table = Table("minutes", "Minutes delivered against planned", columns, rows,
                  {"type": "bar", "series": ["minutes_planned", "minutes_delivered"]})
    return table


def consent_counts(district_id: int, now: datetime, *, school: School | None = None) -> list[tuple]:
    """(school id, or grade at one school; active students; consent active; expiring; pending), computed
    from every active student's grants in force and open requests: one query."""
    in_force = (
        select(ConsentGrant.student_id.label("student_id"), func.max(ConsentGrant.expires_at).label("until"))
        .where(ConsentGrant.district_id == district_id, ConsentGrant.granted_at <= now, ConsentGrant.expires_at > now,
               or_(ConsentGrant.revoked_at.is_(None), ConsentGrant.revoked_at > now))
        .group_by(ConsentGrant.student_id)
        .subquery()
    )
    pending = (
        select(ConsentRequest.student_id.label("student_id"))
        .where(ConsentRequest.district_id == district_id, ConsentRequest.status.in_(OPEN_STATUSES),
               ConsentRequest.expires_at > now)
        .group_by(ConsentRequest.student_id)
        .subquery()
    )
    group = Student.grade if school else Student.school_id
    has_grant = in_force.c.student_id.is_not(None)
    query = (
        select(
            group,
            func.count(),
            func.sum(case((has_grant, 1), else_=0)),
            func.sum(case((and_(has_grant, in_force.c.until <= now + EXPIRING_WITHIN), 1), else_=0)),
            func.sum(case((and_(~has_grant, pending.c.student_id.is_not(None)), 1), else_=0)),
        )
        .select_from(Student)
        .outerjoin(in_force, in_force.c.student_id == Student.id)
        .outerjoin(pending, pending.c.student_id == Student.id)
        .where(Student.district_id == district_id, Student.active.is_(True))
        .group_by(group)
    )
    if school is not None:
        query = query.where(Student.school_id == school.id)
    return [(key, _int(n), _int(active), _int(expiring), _int(pending_n))
            for key, n, active, expiring, pending_n in db.session.execute(query).all()]


def consent_changes_next(district_id: int, now: datetime) -> datetime | None:
    """The first instant after `now` at which consent_counts can change with no row changing: a grant
    in force (or yet to start) starts, ends, is revoked or comes within EXPIRING_WITHIN of its end, or an
    open request expires. Grants already ended or revoked cannot matter again."""
    g = ConsentGrant
    later = now + EXPIRING_WITHIN
    first = db.session.execute(
        select(func.min(case((g.granted_at > now, g.granted_at))), func.min(g.expires_at),
               func.min(case((g.expires_at > later, g.expires_at))), func.min(g.revoked_at))
        .where(g.district_id == district_id, g.expires_at > now, or_(g.revoked_at.is_(None), g.revoked_at > now))
    ).one()
    request_end = db.session.scalar(
        select(func.min(ConsentRequest.expires_at))
        .where(ConsentRequest.district_id == district_id, ConsentRequest.status.in_(OPEN_STATUSES),
               ConsentRequest.expires_at > now))
    starts, ends, ends_after_window, revoked = first
    instants = [starts, ends, ends_after_window - EXPIRING_WITHIN if ends_after_window else None, revoked,
                request_end]
    return min((i for i in instants if i is not None), default=None)


def consent_table(district_id: int, now: datetime, *, school: School | None, names: dict[int, str],
                  counts: list | None = None) -> Table:
    """Consent coverage of active students per school (or per grade at one school)."""
    if counts is None:
        counts = consent_counts(district_id, now, school=school)
    rows = []
    for key, students, active, expiring, pending_n in counts:
        label = f"Grade {key}" if school else names.get(key, f"#{key}")
        rows.append({"name": label, "students": students, "active": active, "expiring": expiring,
                     "pending": pending_n, "missing": students - active - pending_n,
                     **({} if school else {"school_id": key})})
    rows.sort(key=lambda r: r["name"])
    return Table(
        "consent", "Consent coverage today",
        [("name", "Grade" if school else "School"), ("students", "Active students"), ("active", "Consent active"),
         ("expiring", "Expiring within 30 days"), ("pending", "Pending"), ("missing", "Missing")],
        rows, {"type": "bar", "series": ["active", "pending", "missing"], "stacked": True},
    )


def _open_on(today: date):
    return and_(CaseloadAssignment.starts_on <= today,
                or_(CaseloadAssignment.ends_on.is_(None), CaseloadAssignment.ends_on >= today))


def district_caseload_counts(district_id: int, today: date) -> list[tuple]:
    """(school id, active students, of them on a caseload today, therapists with a caseload there)."""
    open_today = _open_on(today)
    therapists = (
        select(Student.school_id, func.count(distinct(CaseloadAssignment.therapist_id)))
        .join(CaseloadAssignment, CaseloadAssignment.student_id == Student.id)
        .where(Student.district_id == district_id, Student.active.is_(True), open_today)
        .group_by(Student.school_id)
    )
    therapist_counts = dict(db.session.execute(therapists).all())
    # One pass over the active students (ix_students_district_active_school), each probing the
    # covering ix_caseload_student_dates: no per-request materialisation of every assignment.
    on_caseload = (select(CaseloadAssignment.id).where(CaseloadAssignment.student_id == Student.id, open_today)
                   .exists())
    query = (
        select(Student.school_id, func.count(), func.sum(case((on_caseload, 1), else_=0)))
        .where(Student.district_id == district_id, Student.active.is_(True))
        .group_by(Student.school_id)
    )
    return [(school_id, _int(students), _int(on), therapist_counts.get(school_id, 0))
            for school_id, students, on in db.session.execute(query).all()]


def caseload_table(district_id: int, today: date, *, school: School | None, names: dict[int, str],
                   counts: list | None = None) -> Table:
    """District: per school, therapists with a caseload there, students on one and without. School: per therapist."""
    if school is not None:
        query = (
            select(User.name, func.count(distinct(Student.id)))
            .select_from(CaseloadAssignment)
            .join(Student, Student.id == CaseloadAssignment.student_id)
            .join(User, User.id == CaseloadAssignment.therapist_id)
            .where(CaseloadAssignment.district_id == district_id, Student.school_id == school.id,
                   Student.active.is_(True), _open_on(today))
            .group_by(User.id, User.name)
        )
        rows = [{"name": name, "students": n} for name, n in db.session.execute(query).all()]
        rows.sort(key=lambda r: r["name"])
        return Table("caseloads", "Caseload sizes today", [("name", "Therapist"), ("students", "Students")], rows,
                     {"type": "bar", "series": ["students"]})
    if counts is None:
        counts = district_caseload_counts(district_id, today)
    rows = []
    for school_id, students, on_caseload, n_therapists in counts:
        rows.append({"name": names.get(school_id, f"#{school_id}"), "therapists": n_therapists,
                     "on_caseload": on_caseload, "unassigned": students - on_caseload,
                     "average": round(on_caseload / n_therapists, 1) if n_therapists else 0, "school_id": school_id})
    rows.sort(key=lambda r: r["name"])
    return Table("caseloads", "Caseloads today",
                 [("name", "School"), ("therapists", "Therapists with a caseload"),
                  ("on_caseload", "Students on a caseload"), ("unassigned", "Students without a therapist"),
                  ("average", "Average caseload")],
                 rows, {"type": "bar", "series": ["on_caseload", "unassigned"], "stacked": True})


def next_midnight(now: datetime) -> datetime:
    """The end of `now.date()` (the day the caseload figures are "today" for), in now's zone."""
    return datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=now.tzinfo)


def district_figures(district_id: int, now: datetime) -> tuple[dict, bool]:
    """The district dashboard's consent and caseload counts per school, and whether they were computed
    now (True) or read from the district's snapshot (False). See app/districts/snapshots.py.

    A recomputation is stored in the caller's transaction: the caller commits."""
    stored = snapshots.load(district_id)
    if snapshots.usable(stored, now):
        return stored.figures, False
    read_generation = stored.generation if stored is not None else 0  # read before computing
    figures = {"consent": [list(r) for r in consent_counts(district_id, now)],
               "caseloads": [list(r) for r in district_caseload_counts(district_id, now.date())]}
    changes = consent_changes_next(district_id, now)
    valid_until = min(next_midnight(now), changes) if changes is not None else next_midnight(now)
    snapshots.store(district_id, read_generation, figures, computed_at=now, valid_until=valid_until)
    return figures, True


#: School rows per page of the district dashboard (its totals and CSV files cover every school).
SCHOOLS_PER_PAGE = 25


@dataclass
class Dashboard:
    start: date
    end: date
    school: School | None
    tables: list[Table]
    schools: list[tuple[int, str]] = field(default_factory=list)  # the district's (id, name), by name

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def school_page(self, page: int, per_page: int = SCHOOLS_PER_PAGE) -> SchoolPage:
        """The schools of one page of a district dashboard (pages by school name, from 1)."""
        pages = max(1, -(-len(self.schools) // per_page))
        page = min(max(page, 1), pages)
        shown = self.schools[(page - 1) * per_page:page * per_page]
        return SchoolPage(page, pages, len(self.schools), shown, (page - 1) * per_page)


@dataclass
class SchoolPage:
    page: int
    pages: int
    total: int
    schools: list[tuple[int, str]]
    offset: int

    @property
    def ids(self) -> set[int]:
        return {school_id for school_id, _name in self.schools}


def build(district: District, *, start: date, end: date, now: datetime, school: School | None = None) -> Dashboard:
    """Every table of one dashboard, in a fixed number of queries whatever the district's size.

    The district dashboard's consent and caseload tables come from the district's snapshot; a
    recomputation is written in the session's transaction, which the caller commits."""
    schools = [tuple(r) for r in db.session.execute(
        select(School.id, School.name).where(School.district_id == district.id).order_by(School.name, School.id))]
    names = dict(schools)
    sessions = sessions_table(district.id, start, end, school=school, names=names)
    consent = caseloads = None
    if school is None:  # a whole district: from its snapshot, when no change or instant has outdated it
        figures, _computed = district_figures(district.id, now)
        consent, caseloads = figures["consent"], figures["caseloads"]
    return Dashboard(start, end, school, [
        sessions,
        minutes_table(sessions),
        consent_table(district.id, now, school=school, names=names, counts=consent),
        caseload_table(district.id, now.date(), school=school, names=names, counts=caseloads),
    ], [] if school else schools)

