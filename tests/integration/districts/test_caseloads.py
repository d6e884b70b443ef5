from datetime import date, timedelta

from sqlalchemy import select

from app.districts.models import CaseloadAssignment
from app.extensions import db
from tests.conftest import csrf_from, login


def _assign(client, student_ids, therapist, back=None):
    page = client.get("/caseloads?show=all").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "student": [str(i) for i in student_ids],
            "therapist": str(therapist.id) if therapist else "none"}
    if back:
        data["back"] = back
    return client.post("/caseloads/assign", data=data)


def test_district_admin_assigns_in_bulk_and_history_is_kept(client, world, make_user):
    newcomer = make_user("therapist", world.district, schools=[world.school_a])
    login(client, world.district_admin)
    response = _assign(client, [world.own_student.id, world.other_student.id], newcomer)
    assert response.status_code == 302
    rows = db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.own_student.id).order_by(CaseloadAssignment.id)).all()
    assert [r.therapist_id for r in rows] == [world.therapist.id, newcomer.id]
    assert rows[0].ends_on == date.today() - timedelta(days=1) and rows[1].ends_on is None
    page = client.get("/caseloads").get_data(as_text=True)
    assert "Other Student" not in page.split("<tbody>")[2]  # no longer unassigned
    sizes = client.get("/caseloads").get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0]
    assert newcomer.name in sizes


def test_reassigning_to_the_same_therapist_changes_nothing(client, world):
    login(client, world.district_admin)
    _assign(client, [world.own_student.id], world.therapist)
    assert len(db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.own_student.id)).all()) == 1


def test_therapist_must_serve_the_students_school(client, world):
    login(client, world.district_admin)
    response = _assign(client, [world.school_b_student.id], world.therapist)
    assert response.status_code == 302
    assert "does not serve the school" in client.get("/caseloads").get_data(as_text=True)
    assert not db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.school_b_student.id,
        CaseloadAssignment.therapist_id == world.therapist.id)).all()


def test_school_admin_is_confined_to_their_school(client, world):
    login(client, world.school_admin)
    _assign(client, [world.school_b_student.id], world.other_therapist)
    rows = db.session.scalars(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.school_b_student.id)).all()
    assert [r.therapist_id for r in rows] == [world.other_therapist.id] and rows[0].ends_on is None
    assert "Middle Student" not in client.get("/caseloads?show=all").get_data(as_text=True)


def test_unassign_from_the_student_page(client, world):
    login(client, world.district_admin)
    response = _assign(client, [world.own_student.id], None, back="student")
    assert response.headers["Location"] == f"/students/{world.own_student.id}"
    row = db.session.scalar(select(CaseloadAssignment).where(CaseloadAssignment.student_id == world.own_student.id))
    assert row.ends_on == date.today() - timedelta(days=1)


def test_foreign_students_and_therapists_are_404(client, world):
    login(client, world.district_admin)
    assert _assign(client, [world.own_student.id], world.foreign_therapist).status_code == 404
    _assign(client, [world.foreign_student.id], world.therapist)
    assert db.session.scalar(select(CaseloadAssignment).where(
        CaseloadAssignment.student_id == world.foreign_student.id)).therapist_id == world.foreign_therapist.id


def test_district_admin_sees_only_therapists_serving_the_listed_schools_and_chooses_a_page_size(
        client, world, make_student):
    from tests.conftest import login

    for i in range(30):
        make_student(world.school_a, first_name=f"Extra{i:02d}", last_name="Zed")
    login(client, world.district_admin)
    html = client.get(f"/caseloads?school={world.school_a.id}&per_page=25").get_data(as_text=True)
    choice = html[html.index('id="therapist"'):html.index("</select>", html.index('id="therapist"'))]
    assert f'value="{world.therapist.id}"' in choice and f'value="{world.other_therapist.id}"' not in choice
    assert world.foreign_therapist.name not in html and world.other_therapist.name not in choice
    assert html.count('name="student"') == 25 and 'rel="next"' in html and "per_page=25" in html
    assert f"school={world.school_a.id}" in html[html.index('rel="next"') - 200:html.index('rel="next"')]
    page_two = client.get(f"/caseloads?school={world.school_a.id}&per_page=25&page=2").get_data(as_text=True)
    assert page_two.count('name="student"') == 31 - 25  # 30 extra + the unassigned world student
    assert client.get("/caseloads?per_page=100000").status_code == 200  # an unknown size falls back to 50
