"""The district dashboard's stored session sums (rollups.SessionTotalsSnapshot): after a booking, an
attendance change, a rollback, a change committed while summing, a rebuild and across districts and
ranges, the sums shown equal a fresh sum of the day rows (themselves checked against the appointments)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.districts import dashboards, rollups
from app.districts.rollups import COUNTERS, SessionDayTotal, SessionTotalsSnapshot
from app.extensions import db
from app.scheduling.models import Appointment

START, END = date(2026, 9, 1), date(2026, 10, 31)


def _session(therapist, student, day: date, minutes: int = 30, **kw) -> Appointment:
    begins = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=17)
    row = Appointment(district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
                      student_id=student.id, starts_at=begins, ends_at=begins + timedelta(minutes=minutes),
                      local_date=day, modality="telehealth", status=kw.pop("status", "completed"),
                      attendance=kw.pop("attendance", "attended"), minutes_delivered=kw.pop("delivered", minutes),
                      created_by_id=therapist.id)
    db.session.add(row)
    return row


def direct(district_id: int, start: date = START, end: date = END) -> list[tuple]:
    """The per-school sums from the day rows, no stored sums involved."""
    t = SessionDayTotal
    rows = db.session.execute(select(t.school_id, *(func.sum(getattr(t, c)) for c in COUNTERS))
                              .where(t.district_id == district_id, t.local_date >= start, t.local_date <= end)
                              .group_by(t.school_id)).all()
    return sorted(tuple(int(v) for v in r) for r in rows)


def shown(district_id: int, start: date = START, end: date = END, *, commit: bool = True) -> tuple[list, bool]:
    """The sums the dashboard uses, and whether they were summed for this view (not read back)."""
    calls = []

    def compute():
        calls.append(1)
        return direct(district_id, start, end)

    sums = sorted(tuple(r) for r in rollups.cached_sums(district_id, start, end, compute))
    if commit:
        db.session.commit()
    return sums, bool(calls)


def warm(district_id: int) -> list:
    shown(district_id)
    sums, computed = shown(district_id)
    assert not computed, "a second view with nothing changed must read the stored sums"
    assert sums == direct(district_id)
    return sums


def test_booking_and_attendance_changes_refresh_the_sums(world):
    w = world
    _session(w.therapist, w.own_student, date(2026, 9, 8))
    db.session.commit()
    before = warm(w.district.id)
    booked = _session(w.therapist, w.own_student, date(2026, 9, 15), attendance=None, status="scheduled",
                      delivered=None)
    db.session.commit()
    after_booking, computed = shown(w.district.id)
    assert computed and after_booking == direct(w.district.id) != before
    warm(w.district.id)
    booked.attendance, booked.status, booked.minutes_delivered = "no_show", "completed", 0
    db.session.commit()
    after_attendance, computed = shown(w.district.id)
    assert computed and after_attendance == direct(w.district.id) != after_booking
    assert rollups.stored_totals(w.district.id) == rollups.direct_totals(w.district.id)


def test_another_range_is_summed_for_itself(world):
    w = world
    _session(w.therapist, w.own_student, date(2026, 9, 8))
    _session(w.other_therapist, w.school_b_student, date(2026, 10, 20))
    db.session.commit()
    whole = warm(w.district.id)
    september, computed = shown(w.district.id, START, date(2026, 9, 30))
    assert computed and september == direct(w.district.id, START, date(2026, 9, 30)) != whole
    back, computed = shown(w.district.id)
    assert computed and back == whole, "one stored range at a time: the other range is summed again"


def test_a_rollback_leaves_the_stored_sums_right(world):
    w = world
    _session(w.therapist, w.own_student, date(2026, 9, 8))
    db.session.commit()
    before = warm(w.district.id)
    _session(w.therapist, w.own_student, date(2026, 9, 9))
    db.session.flush()
    inside, computed = shown(w.district.id, commit=False)
    assert computed and inside == direct(w.district.id) != before
    db.session.rollback()
    after, computed = shown(w.district.id)
    assert not computed and after == before == direct(w.district.id)


def test_a_change_committed_while_summing_is_not_hidden(world):
    w = world
    _session(w.therapist, w.own_student, date(2026, 9, 8))
    db.session.commit()
    before = warm(w.district.id)
    rollups.bump(db.session, [w.district.id])  # due for a new sum
    db.session.commit()

    def compute_then_another_request_books():
        sums = direct(w.district.id)
        with Session(db.engine) as other:
            other.add(Appointment(
                district_id=w.district.id, school_id=w.school_a.id, therapist_id=w.therapist.id,
                student_id=w.own_student.id, starts_at=datetime(2026, 9, 10, 17, tzinfo=UTC),
                ends_at=datetime(2026, 9, 10, 17, 30, tzinfo=UTC), local_date=date(2026, 9, 10),
                modality="telehealth", status="completed", attendance="attended", minutes_delivered=30,
                created_by_id=w.therapist.id))
            other.commit()
        return sums

    stale = rollups.cached_sums(w.district.id, START, END, compute_then_another_request_books)
    db.session.commit()
    assert sorted(tuple(r) for r in stale) == before
    after, computed = shown(w.district.id)
    assert computed, "sums computed before a change committed must not be kept"
    assert after == direct(w.district.id) != before


def test_a_change_in_one_district_leaves_anothers_stored_sums_alone_and_rebuild_outdates_them(world):
    w = world
    _session(w.therapist, w.own_student, date(2026, 9, 8))
    _session(w.foreign_therapist, w.foreign_student, date(2026, 9, 8))
    db.session.commit()
    ours, theirs = warm(w.district.id), warm(w.foreign_district.id)
    _session(w.therapist, w.own_student, date(2026, 9, 9))
    db.session.commit()
    assert shown(w.foreign_district.id) == (theirs, False)
    sums, computed = shown(w.district.id)
    assert computed and sums == direct(w.district.id) != ours
    rollups.rebuild(w.foreign_district.id)
    db.session.commit()
    sums, computed = shown(w.foreign_district.id)
    assert computed and sums == theirs
    assert db.session.get(SessionTotalsSnapshot, w.district.id).computed_generation is not None


def test_district_admin_sees_a_new_session_on_the_next_dashboard_view(login_as, world):
    import csv
    import io

    w = world
    client = login_as(w.district_admin)
    range_ = "start=2026-09-01&end=2026-10-31"

    def alpha_row():
        rows = list(csv.reader(io.StringIO(client.get(f"/dashboard/sessions.csv?{range_}").get_data(as_text=True))))
        return next((r for r in rows if r[0] == "Alpha Elementary"), None)

    assert alpha_row() is None
    _session(w.therapist, w.own_student, date(2026, 9, 8), 30, delivered=25)
    db.session.commit()
    assert alpha_row() == ["Alpha Elementary", "1", "1", "0", "0", "30", "25"]
    assert alpha_row() == ["Alpha Elementary", "1", "1", "0", "0", "30", "25"]  # read back
    stored = db.session.get(SessionTotalsSnapshot, w.district.id)
    db.session.refresh(stored)
    assert stored.computed_generation == stored.generation and stored.range_start == START
    assert dashboards.sessions_table(w.district.id, START, END, school=None,
                                     names={w.school_a.id: "Alpha Elementary"}).rows[0]["delivered"] == 1
