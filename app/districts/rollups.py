"""Per-school, per-day session totals for the district dashboard, kept in step with appointments.

The district dashboard's sessions table used to aggregate every appointment of the range (a school
year of a 50,000-student district is ~135,000 rows) on each page view. `SessionDayTotal` holds the
same sums per (district, school, school-local date): a school year is at most ~200 rows per school,
whatever the number of students or sessions.

Correctness: a `before_flush` listener turns every inserted, changed or deleted `Appointment` into
+/- deltas of its old and new contribution and applies them with an upsert in the same flush, so
the totals commit or roll back with the appointment change itself (booking, rescheduling,
cancelling, attendance, consent flags). Old values are read back from the database (not from the
ORM's attribute history, which may not hold them). Bulk Core inserts that bypass the ORM
(`seed-load`) call `rebuild()` afterwards; `flask rebuild-dashboard-totals` does the same for a
repair. `direct_totals()` is the reference aggregate over appointments, used by rebuild and tests.

`SessionTotalsSnapshot` keeps one district's per-school sums over one date range (what the district
dashboard asks for: the school year to date), so a warm dashboard reads one row instead of summing
~8,000 day rows (100 schools x 80 school days). It is the rollup's own cache: `apply_deltas` and
`rebuild` bump the district's `generation` in the same statement sequence as they change day rows,
and a stored sum is used only at the generation it was computed at and for the same range. The sums
of a fixed range do not change with the clock (the range's end is part of the key), so there is no
expiry instant.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, case, delete, event, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db
from app.scheduling.models import Appointment

COUNTERS = ("scheduled", "delivered", "no_shows", "cancelled", "minutes_planned", "minutes_delivered")


class SessionDayTotal(db.Model):
    """Sessions of one school on one school-local date (definitions in app/districts/dashboards.py)."""

    __tablename__ = "session_day_totals"
    __table_args__ = (Index("ix_session_day_totals_district_date", "district_id", "local_date", "school_id"),)

    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    scheduled: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    no_shows: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    minutes_planned: Mapped[int] = mapped_column(Integer, default=0)
    minutes_delivered: Mapped[int] = mapped_column(Integer, default=0)


class SessionTotalsSnapshot(db.Model):
    """Per-school sums of one district's day rows over [range_start, range_end], as of generation `computed_generation`."""

    __tablename__ = "session_totals_snapshots"

    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every change of the district's days
    computed_generation: Mapped[int | None] = mapped_column(Integer)
    range_start: Mapped[date | None] = mapped_column(Date)
    range_end: Mapped[date | None] = mapped_column(Date)
    totals: Mapped[list | None] = mapped_column(JSON)  # [[school_id, *COUNTERS], ...]


def _upsert(connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    return upsert


def bump(session: Session, district_ids) -> None:
    """Outdate the stored sums of `district_ids` (None: every district) in the session's transaction."""
    from app.districts.models import District

    connection = session.connection()
    if district_ids is None:
        district_ids = connection.execute(select(District.id)).scalars().all()
    table = SessionTotalsSnapshot.__table__
    statement = _upsert(connection)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["district_id"],
        set_={"generation": table.c.generation + 1, "totals": None, "computed_generation": None})
    for district_id in sorted(set(district_ids)):  # key order: lock order
        connection.execute(statement, {"district_id": district_id, "generation": 1})


def cached_sums(district_id: int, start: date, end: date, compute) -> list[tuple]:
    """The district's per-school sums over [start, end]: stored ones when still true, else `compute()`,
    stored (in the caller's transaction; the caller commits) unless a change bumped the generation
    since it was read."""
    table = SessionTotalsSnapshot.__table__
    stored = db.session.execute(select(table).where(table.c.district_id == district_id)).first()
    if (stored is not None and stored.totals is not None and stored.computed_generation == stored.generation
            and stored.range_start == start and stored.range_end == end):
        return [tuple(r) for r in stored.totals]
    read_generation = stored.generation if stored is not None else 0  # read before computing
    found = [tuple(int(round(v or 0)) if i else v for i, v in enumerate(r)) for r in compute()]
    values = {"computed_generation": read_generation, "range_start": start, "range_end": end,
              "totals": [list(r) for r in found]}
    connection = db.session.connection()
    statement = _upsert(connection)(table).values(district_id=district_id, generation=read_generation, **values)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["district_id"], set_=values, where=table.c.generation == read_generation))
    return found


def contribution(*, status, attendance, minutes_delivered, starts_at, ends_at) -> tuple[int, ...]:
    """What one appointment adds to its day's totals, in COUNTERS order."""
    cancelled = status == "cancelled"
    attended = attendance == "attended"
    planned = 0 if cancelled else round((ends_at - starts_at).total_seconds() / 60)
    return (1, int(attended), int(attendance == "no_show"), int(cancelled), planned,
            (minutes_delivered or 0) if attended else 0)


_COLUMNS = (Appointment.id, Appointment.district_id, Appointment.school_id, Appointment.local_date,
            Appointment.status, Appointment.attendance, Appointment.minutes_delivered, Appointment.starts_at,
            Appointment.ends_at)


def _key_and_contribution(values) -> tuple[tuple[int, int, date], tuple[int, ...]]:
    return ((values.district_id, values.school_id, values.local_date),
            contribution(status=values.status, attendance=values.attendance,
                         minutes_delivered=values.minutes_delivered, starts_at=values.starts_at,
                         ends_at=values.ends_at))


def _add(deltas: dict, key, values: tuple[int, ...], sign: int) -> None:
    row = deltas[key]
    for i, v in enumerate(values):
        row[i] += sign * v


def _before_flush(session: Session, _flush_context, _instances) -> None:
    new = [o for o in session.new if isinstance(o, Appointment)]
    changed = [o for o in session.dirty if isinstance(o, Appointment) and session.is_modified(o)]
    gone = [o for o in session.deleted if isinstance(o, Appointment)]
    if not (new or changed or gone):
        return
    deltas: dict[tuple[int, int, date], list[int]] = defaultdict(lambda: [0] * len(COUNTERS))
    for appointment in new + changed:
        key, values = _key_and_contribution(appointment)
        _add(deltas, key, values, +1)
    old_ids = [o.id for o in changed + gone if o.id is not None]
    if old_ids:
        # The rows as stored before this flush: what they contributed until now.
        connection = session.connection()
        for stored in connection.execute(select(*_COLUMNS).where(Appointment.id.in_(old_ids))):
            key, values = _key_and_contribution(stored)
            _add(deltas, key, values, -1)
    apply_deltas(session, deltas)


def apply_deltas(session: Session, deltas: dict) -> None:
    """Add `deltas` {(district, school, date): [counters]} to the totals, in key order (lock order)."""
    rows = [dict(zip(("district_id", "school_id", "local_date"), key, strict=True))
            | dict(zip(COUNTERS, values, strict=True))
            for key, values in sorted(deltas.items()) if any(values)]
    if not rows:
        return
    connection = session.connection()
    table = SessionDayTotal.__table__
    statement = _upsert(connection)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["district_id", "school_id", "local_date"],
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS})
    for row in rows:  # a flush touches few days; one statement each keeps the upsert portable
        connection.execute(statement, row)
    bump(session, {row["district_id"] for row in rows})


event.listen(Session, "before_flush", _before_flush)


def _minutes(start_col, end_col):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.round(func.extract("epoch", end_col - start_col) / 60)
    return func.round((func.julianday(end_col) - func.julianday(start_col)) * 1440)


def direct_totals_query(district_id: int | None = None):
    """The totals computed from the appointments themselves (the reference for the rollup)."""
    cancelled = Appointment.status == "cancelled"
    attended = Appointment.attendance == "attended"
    query = (
        select(
            Appointment.district_id, Appointment.school_id, Appointment.local_date,
            func.count().label("scheduled"),
            func.sum(case((attended, 1), else_=0)).label("delivered"),
            func.sum(case((Appointment.attendance == "no_show", 1), else_=0)).label("no_shows"),
            func.sum(case((cancelled, 1), else_=0)).label("cancelled"),
            func.sum(case((cancelled, 0), else_=_minutes(Appointment.starts_at, Appointment.ends_at)))
            .label("minutes_planned"),
            func.sum(case((attended, func.coalesce(Appointment.minutes_delivered, 0)), else_=0))
            .label("minutes_delivered"),
        )
        .group_by(Appointment.district_id, Appointment.school_id, Appointment.local_date)
    )
    if district_id is not None:
        query = query.where(Appointment.district_id == district_id)
    return query


def direct_totals(district_id: int | None = None) -> dict[tuple[int, int, date], tuple[int, ...]]:
    return {(r[0], r[1], r[2]): tuple(int(round(v or 0)) for v in r[3:])
            for r in db.session.execute(direct_totals_query(district_id))}


def stored_totals(district_id: int | None = None) -> dict[tuple[int, int, date], tuple[int, ...]]:
    """The rollup rows (days whose totals are all zero left out, as direct_totals has no such days)."""
    t = SessionDayTotal
    query = select(t.district_id, t.school_id, t.local_date, *(getattr(t, c) for c in COUNTERS))
    if district_id is not None:
        query = query.where(t.district_id == district_id)
    return {(r[0], r[1], r[2]): tuple(r[3:]) for r in db.session.execute(query) if any(r[3:])}


def rebuild(district_id: int | None = None) -> int:
    """Recompute the totals of one district (or all) from the appointments, in the caller's transaction."""
    t = SessionDayTotal.__table__
    wipe = delete(t)
    if district_id is not None:
        wipe = wipe.where(t.c.district_id == district_id)
    db.session.execute(wipe)
    bump(db.session, None if district_id is None else [district_id])
    result = db.session.execute(
        insert(t).from_select(["district_id", "school_id", "local_date", *COUNTERS], direct_totals_query(district_id)))
    return result.rowcount or 0
