"""The district dashboard's consent and caseload snapshot: after every kind of change, after a
rollback, when the clock passes an instant at which a figure changes, and across districts, the
figures shown equal a fresh computation from the rows themselves."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.consent.services import expire_due, request_consent, revoke
from app.db_types import utcnow
from app.districts import dashboards, snapshots
from app.districts.models import CaseloadAssignment, Student
from app.districts.people import add_guardian_link, remove_guardian_link, update_student
from app.districts.services import assign_caseload
from app.extensions import db


def _sorted(rows) -> list[list]:
    return sorted([list(r) for r in rows], key=lambda r: r[0])


def direct(district_id: int, now) -> dict:
    return {"consent": _sorted(dashboards.consent_counts(district_id, now)),
            "caseloads": _sorted(dashboards.district_caseload_counts(district_id, now.date()))}


def shown(district_id: int, now, *, commit: bool = True) -> tuple[dict, bool]:
    """What the dashboard shows (through the snapshot), and whether it was recomputed for this view."""
    figures, computed = dashboards.district_figures(district_id, now)
    if commit:
        db.session.commit()
    return {"consent": _sorted(figures["consent"]), "caseloads": _sorted(figures["caseloads"])}, computed


def warm(district_id: int, now) -> dict:
    """Compute and store the snapshot, then check the next view reads it (and it is right)."""
    shown(district_id, now)
    figures, computed = shown(district_id, now)
    assert not computed, "a second view with nothing changed must read the snapshot"
    assert figures == direct(district_id, now)
    return figures


def assert_fresh_after_change(district_id: int, before: dict, *, changes: bool = True) -> dict:
    now = utcnow()
    figures, computed = shown(district_id, now)
    assert computed, "the change must have discarded the snapshot"
    assert figures == direct(district_id, now)
    if changes:
        assert figures != before, "this change was meant to change the figures"
    return figures


@pytest.fixture
def consented(world, make_user, link_guardian, grant_consent):
    """own_student: consent active (signed by world.guardian); other_student: a guardian, no request."""
    w = world
    w.other_guardian = make_user("guardian", w.district)
    link_guardian(w.other_guardian, w.other_student)
    w.own_request = grant_consent(w.own_student, w.district_admin)
    return w


def test_signing_consent_refreshes_the_figures(consented, grant_consent):
    w = consented
    before = warm(w.district.id, utcnow())
    grant_consent(w.other_student, w.district_admin)
    assert_fresh_after_change(w.district.id, before)


def test_requesting_consent_refreshes_the_figures(consented):
    w = consented
    before = warm(w.district.id, utcnow())
    request_consent(w.district_admin, w.other_student, scopes=["video_sessions"])
    assert_fresh_after_change(w.district.id, before)


def test_revoking_consent_refreshes_the_figures(consented):
    w = consented
    before = warm(w.district.id, utcnow())
    revoke(w.own_request, w.guardian, ["video_sessions", "games", "mood_checkins", "share_with_school_staff"])
    assert_fresh_after_change(w.district.id, before)


def test_linking_and_unlinking_a_guardian_discards_the_snapshot(consented):
    w = consented
    before = warm(w.district.id, utcnow())
    link = add_guardian_link(w.district_admin, w.school_b_student, email="new.parent@family.example", name="New",
                             relationship="parent", legal_authority=True, restricted=False)
    # Links do not enter today's definitions: the figures stay the same, but are recomputed.
    assert_fresh_after_change(w.district.id, before, changes=False)
    warm(w.district.id, utcnow())
    remove_guardian_link(w.district_admin, link)
    assert_fresh_after_change(w.district.id, before, changes=False)


def _edit(actor, student, **changes):
    values = {"first_name": student.first_name, "last_name": student.last_name,
              "preferred_name": student.preferred_name, "grade": student.grade, "school_id": student.school_id,
              "preferred_language": student.preferred_language, "active": student.active} | changes
    return update_student(actor, student, **values)


def test_archiving_a_student_refreshes_the_figures(consented):
    w = consented
    before = warm(w.district.id, utcnow())
    assert _edit(w.district_admin, w.own_student, active=False) == ["active"]
    after = assert_fresh_after_change(w.district.id, before)
    _edit(w.district_admin, w.own_student, active=True)
    assert_fresh_after_change(w.district.id, after)


def test_moving_a_student_to_another_school_refreshes_the_figures(consented):
    w = consented
    before = warm(w.district.id, utcnow())
    assert _edit(w.district_admin, w.own_student, school_id=w.school_b.id) == ["school_id"]
    assert_fresh_after_change(w.district.id, before)


def test_adding_a_student_refreshes_the_figures(consented, make_student):
    w = consented
    before = warm(w.district.id, utcnow())
    make_student(w.school_b, first_name="New", last_name="Arrival")
    assert_fresh_after_change(w.district.id, before)


def test_assigning_and_unassigning_a_caseload_refreshes_the_figures(consented):
    w = consented
    before = warm(w.district.id, utcnow())
    assign_caseload(w.district_admin, [w.other_student], w.therapist)
    after = assert_fresh_after_change(w.district.id, before)
    assign_caseload(w.district_admin, [w.other_student, w.own_student], None)
    assert_fresh_after_change(w.district.id, after)


def test_bulk_orm_statements_discard_the_snapshot(consented):
    """Roster imports and seed-load write with ORM bulk statements, which skip before_flush."""
    w = consented
    before = warm(w.district.id, utcnow())
    db.session.execute(insert(Student), [{"district_id": w.district.id, "school_id": w.school_a.id,
                                          "first_name": "Bulk", "last_name": "Row", "grade": "3",
                                          "date_of_birth": utcnow().date().replace(year=2016),
                                          "preferred_language": "en", "active": True}])
    db.session.commit()
    after = assert_fresh_after_change(w.district.id, before)
    warm(w.district.id, utcnow())
    db.session.execute(update(Student).where(Student.first_name == "Bulk").values(active=False))
    db.session.commit()
    assert_fresh_after_change(w.district.id, after)


# --- the clock -----------------------------------------------------------------------------------------


def test_consent_ending_and_coming_within_30_days_refresh_the_figures_by_the_clock(world, make_user, link_guardian,
                                                                                  grant_consent):
    w = world
    link_guardian(make_user("guardian", w.district), w.school_b_student)
    request = grant_consent(w.school_b_student, w.district_admin, expires_on=utcnow().date() + timedelta(days=40))
    grant_end = request.expires_at
    first = warm(w.district.id, utcnow())
    becomes_expiring = grant_end - dashboards.EXPIRING_WITHIN
    # Up to the instant, a snapshot still holds (and is right); at it, the figures change by themselves.
    minute_before = becomes_expiring - timedelta(minutes=1)
    assert minute_before.date() == becomes_expiring.date()  # end of a school-local day: not UTC midnight
    assert shown(w.district.id, minute_before)[1], "a new day: recomputed"
    just_before, computed = shown(w.district.id, becomes_expiring - timedelta(microseconds=1))
    assert not computed and just_before == first == direct(w.district.id, minute_before)
    expiring, computed = shown(w.district.id, becomes_expiring)
    assert computed and expiring == direct(w.district.id, becomes_expiring) != first
    ended, computed = shown(w.district.id, grant_end)
    assert computed and ended == direct(w.district.id, grant_end) != expiring


def test_pending_request_expiring_refreshes_the_figures_by_the_clock(consented):
    w = consented
    now = utcnow()
    created = request_consent(w.district_admin, w.other_student, scopes=["games"],
                              expires_on=now.date() + timedelta(days=3))
    first = warm(w.district.id, now)
    lapsed, computed = shown(w.district.id, created.request.expires_at)
    assert computed and lapsed == direct(w.district.id, created.request.expires_at) != first


def test_caseload_ending_today_leaves_tomorrows_figures_without_it(world, assign):
    w = world
    now = utcnow()
    assign(w.therapist, w.other_student, starts_on=now.date() - timedelta(days=3), ends_on=now.date())
    first = warm(w.district.id, now)
    tomorrow = dashboards.next_midnight(now)
    figures, computed = shown(w.district.id, tomorrow)
    assert computed and figures == direct(w.district.id, tomorrow) != first


def test_a_view_at_an_earlier_instant_than_the_snapshot_is_computed_for_that_instant(world, assign):
    w = world
    now = utcnow()
    assign(w.therapist, w.other_student, starts_on=now.date() + timedelta(days=1))
    warm(w.district.id, dashboards.next_midnight(now))  # tomorrow: other_student on a caseload
    figures, computed = shown(w.district.id, now)
    assert computed and figures == direct(w.district.id, now)


def test_expiry_job_and_a_new_form_version_discard_the_snapshot(consented, consent_form):
    w = consented
    now = utcnow()
    created = request_consent(w.district_admin, w.other_student, scopes=["games"], expires_on=now.date())
    after_end = created.request.expires_at + timedelta(seconds=1)
    first = warm(w.district.id, after_end)
    assert expire_due(after_end) == 1  # the request becomes "expired": a row change at the same instant
    figures, computed = shown(w.district.id, after_end)
    assert computed and figures == first == direct(w.district.id, after_end)
    warm(w.district.id, utcnow())
    consent_form(w.district_admin, title_en="Consent, second version")
    assert_fresh_after_change(w.district.id, first, changes=False)


# --- transactions ---------------------------------------------------------------------------------------


def test_a_change_sees_itself_and_its_rollback_leaves_the_snapshot_right(consented):
    w = consented
    now = utcnow()
    before = warm(w.district.id, now)
    w.own_student.active = False
    db.session.flush()
    inside, computed = shown(w.district.id, now, commit=False)  # in the changing transaction
    assert computed and inside == direct(w.district.id, now) != before
    db.session.rollback()
    after, computed = shown(w.district.id, now)
    assert not computed, "the rollback restores the snapshot the change had discarded"
    assert after == before == direct(w.district.id, now)


def test_a_change_committed_while_the_figures_are_computed_is_not_hidden(consented, monkeypatch):
    """The generation is read before computing: a change committing in between leaves nothing usable."""
    w = consented
    now = utcnow()
    before = warm(w.district.id, now)
    db.session.execute(update(snapshots.DashboardSnapshot).values(valid_until=now))  # due for a recomputation
    db.session.commit()
    real_store = snapshots.store

    def store_after_a_concurrent_change(*args, **kw):
        with Session(db.engine) as other:  # another request, its own connection and transaction
            other.get(Student, w.own_student.id).active = False
            other.commit()
        real_store(*args, **kw)

    monkeypatch.setattr(snapshots, "store", store_after_a_concurrent_change)
    stale, computed = shown(w.district.id, now)
    assert computed and stale == before  # computed before the change committed
    monkeypatch.setattr(snapshots, "store", real_store)
    figures, computed = shown(w.district.id, now)
    assert computed, "figures computed before a change committed must not be kept"
    assert figures == direct(w.district.id, now) != before


# --- districts ------------------------------------------------------------------------------------------


def test_a_change_in_one_district_leaves_another_districts_snapshot_and_figures_alone(consented, assign):
    w = consented
    now = utcnow()
    ours, theirs = warm(w.district.id, now), warm(w.foreign_district.id, now)
    assert {r[0] for r in theirs["consent"]} == {w.foreign_school.id}
    assert {r[0] for r in ours["consent"]} == {w.school_a.id, w.school_b.id}
    assign_caseload(w.district_admin, [w.other_student], w.therapist)
    figures, computed = shown(w.foreign_district.id, utcnow())
    assert not computed and figures == theirs == direct(w.foreign_district.id, utcnow())
    assert_fresh_after_change(w.district.id, ours)
    db.session.execute(update(CaseloadAssignment).where(CaseloadAssignment.district_id == w.foreign_district.id)
                       .values(ends_on=now.date() - timedelta(days=1)))
    db.session.commit()  # a criteria UPDATE names no district: every district's snapshot goes
    assert_fresh_after_change(w.foreign_district.id, theirs)


def _school_row(client, table: str, school_name: str) -> list[str]:
    response = client.get(f"/dashboard/{table}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    return next(r for r in rows if r[0] == school_name)


def test_district_admin_sees_a_change_on_the_next_dashboard_view(login_as, world):
    w = world
    client = login_as(w.district_admin)
    assert client.get("/dashboard").status_code == 200
    stored = db.session.scalar(select(snapshots.DashboardSnapshot.figures).where(
        snapshots.DashboardSnapshot.district_id == w.district.id))
    assert stored is not None, "the view keeps its snapshot"
    assert _school_row(client, "consent", "Alpha Elementary")[1] == "2"  # active students
    assert _school_row(client, "caseloads", "Alpha Elementary")[2:4] == ["1", "1"]  # on a caseload, without
    _edit(w.district_admin, db.session.get(Student, w.other_student.id), active=False)
    assert _school_row(client, "consent", "Alpha Elementary")[1] == "1"
    assert _school_row(client, "caseloads", "Alpha Elementary")[2:4] == ["1", "0"]
