"""A per-district snapshot of the district dashboard's "as of today" tables, discarded with any change.

The consent-coverage and caseload tables of the district dashboard count every active student of
the district (50,000 in the largest) against their grants, requests and caseload assignments.
Their figures change only (a) when one of those rows changes, or (b) at a known instant: a grant
starts, ends, is revoked or comes within 30 days of its end, an open request expires, or the day
changes (caseloads are "open today"). `DashboardSnapshot` keeps the per-school figures of one
district with the instant (b) at which they stop being true (`valid_until`); (a) is handled by a
generation counter:

* Every flush that inserts, changes or deletes a `WATCHED` row bumps `generation` of its district
  (an upsert, in the same transaction as the change: it commits or rolls back with it). ORM bulk
  statements (`session.execute(insert(Student), rows)`, roster imports, seed-load) are caught by a
  `do_orm_execute` listener: the districts named in their rows, or every district when a statement
  does not say which (an UPDATE/DELETE by criteria).
* A view uses the stored figures only when `computed_generation == generation` and
  `computed_at <= now < valid_until`. Otherwise it recomputes them and stores them with the
  generation it read *before* computing, and only if that is still the generation: a change that
  commits while the figures are being computed leaves a snapshot that is never used.

Raw SQL that bypasses the ORM session (psql, `text()` DML, a Core connection) does not bump the
generation: whoever writes that way calls `invalidate(session, None)` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, event, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.consent.models import ConsentGrant, ConsentRequest, ConsentSignature, ConsentTemplate
from app.db_types import UTCDateTime
from app.districts.models import CaseloadAssignment, District, GuardianLink, Student
from app.extensions import db

#: Rows whose change can change the figures (or their definitions' inputs): any insert, update or
#: delete of one discards its district's snapshot. Signatures, templates and guardian links do not
#: enter today's definitions; they are watched so that a definition that starts using them (or a
#: service that changes grants through them) cannot silently read a stale snapshot.
WATCHED = (Student, GuardianLink, CaseloadAssignment, ConsentRequest, ConsentGrant, ConsentSignature,
           ConsentTemplate)
_WATCHED_TABLES = {model.__table__.name: model for model in WATCHED}


class DashboardSnapshot(db.Model):
    """The district dashboard's consent and caseload figures per school, as computed at `computed_at`."""

    __tablename__ = "dashboard_snapshots"

    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every watched change
    computed_generation: Mapped[int | None] = mapped_column(Integer)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    figures: Mapped[dict | None] = mapped_column(JSON)


def _upsert(connection):
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(DashboardSnapshot.__table__)


def invalidate(session: Session, district_ids: Iterable[int] | None) -> None:
    """Discard the snapshots of `district_ids` (None: of every district) in the session's transaction."""
    connection = session.connection()
    table = DashboardSnapshot.__table__
    if district_ids is None:  # every district, including those without a snapshot row yet
        district_ids = connection.execute(select(District.id)).scalars().all()
    statement = _upsert(connection)
    statement = statement.on_conflict_do_update(
        index_elements=["district_id"],
        set_={"generation": table.c.generation + 1, "figures": None, "computed_generation": None})
    for district_id in sorted({d for d in district_ids if d is not None}):  # key order: lock order
        connection.execute(statement, {"district_id": district_id, "generation": 1})


def _districts_of(session: Session, objects: list) -> set[int]:
    districts: set[int] = set()
    signature_requests = []
    for obj in objects:
        if isinstance(obj, ConsentSignature):
            signature_requests.append(obj.request_id)
            continue
        districts.add(obj.district_id)
        state = inspect(obj)
        if state.persistent or state.deleted:  # a row moved between districts leaves both stale
            districts.update(v for v in state.attrs.district_id.history.deleted or () if v is not None)
    if signature_requests:
        districts.update(session.connection().execute(
            select(ConsentRequest.district_id).where(ConsentRequest.id.in_(signature_requests))).scalars())
    districts.discard(None)
    return districts


def _before_flush(session: Session, _flush_context, _instances) -> None:
    touched = [o for o in session.new if isinstance(o, WATCHED)]
    touched += [o for o in session.dirty if isinstance(o, WATCHED) and session.is_modified(o)]
    touched += [o for o in session.deleted if isinstance(o, WATCHED)]
    if touched:
        invalidate(session, _districts_of(session, touched))


def _bulk_districts(session: Session, model, parameters) -> set[int] | None:
    """The districts an ORM bulk statement's rows belong to, or None when its rows do not say."""
    rows = parameters if isinstance(parameters, list) else [parameters] if parameters else []
    if not rows:
        return None
    if all("district_id" in row for row in rows):
        return {row["district_id"] for row in rows}
    if all("id" in row for row in rows):  # bulk UPDATE by primary key: ask the rows themselves
        ids = [row["id"] for row in rows]
        return set(session.connection().execute(
            select(model.__table__.c.district_id).where(model.__table__.c.id.in_(ids)).distinct()).scalars())
    return None


def _do_orm_execute(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    model = _WATCHED_TABLES.get(getattr(table, "name", None))
    if model is None:
        return
    if model is ConsentSignature:  # no district column: every district, conservatively
        invalidate(state.session, None)
        return
    invalidate(state.session, _bulk_districts(state.session, model, state.parameters))


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "do_orm_execute", _do_orm_execute)


def load(district_id: int):
    """The district's snapshot row (a Core row, not an ORM object: nothing to flush), or None."""
    return db.session.execute(select(DashboardSnapshot.__table__).where(
        DashboardSnapshot.district_id == district_id)).first()


def usable(row, now: datetime) -> bool:
    return (row is not None and row.figures is not None and row.computed_generation == row.generation
            and row.computed_at is not None and row.valid_until is not None
            and row.computed_at <= now < row.valid_until)


def store(district_id: int, read_generation: int, figures: dict, *, computed_at: datetime,
          valid_until: datetime) -> None:
    """Keep `figures` unless a change has bumped the generation since `read_generation` was read."""
    connection = db.session.connection()
    table = DashboardSnapshot.__table__
    values = {"computed_generation": read_generation, "computed_at": computed_at, "valid_until": valid_until,
              "figures": figures}
    statement = _upsert(connection).values(district_id=district_id, generation=read_generation, **values)
    statement = statement.on_conflict_do_update(
        index_elements=["district_id"], set_=values, where=table.c.generation == read_generation)
    connection.execute(statement)
