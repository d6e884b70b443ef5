import pytest
from werkzeug.exceptions import NotFound

from app.districts.models import Student
from app.tenancy import get_in_district
from tests.conftest import login


def test_get_in_district_returns_own_and_404s_foreign(app, world):
    assert get_in_district(Student, world.own_student.id, world.district.id).id == world.own_student.id
    with pytest.raises(NotFound):
        get_in_district(Student, world.foreign_student.id, world.district.id)
    with pytest.raises(NotFound):
        get_in_district(Student, world.own_student.id, None)


def test_district_admin_cannot_see_another_districts_student_school_or_staff(client, world):
    login(client, world.district_admin)
    assert client.get(f"/students/{world.foreign_student.id}").status_code == 404
    assert client.get(f"/schools/{world.foreign_school.id}").status_code == 404
    students = client.get("/students?q=student").get_data(as_text=True)
    assert "Own" in students and "Foreign" not in students
    staff = client.get("/staff").get_data(as_text=True)
    assert "t@alpha.example" in staff and "t@beta.example" not in staff


def test_school_admin_sees_only_their_school(client, world):
    login(client, world.school_admin)
    body = client.get("/students").get_data(as_text=True)
    assert "Own" in body and "Middle" not in body
    # Asking for the other school by filter still yields only their own school.
    body = client.get(f"/students?school={world.school_b.id}").get_data(as_text=True)
    assert "Middle" not in body


def test_therapist_home_lists_only_their_caseload(client, world, assign):
    login(client, world.therapist)
    body = client.get("/home").get_data(as_text=True)
    assert "Own Student" in body and "Other Student" not in body and "Middle Student" not in body


def test_ended_caseload_assignment_ends_access(client, world, assign):
    from datetime import date, timedelta

    from app.districts.models import CaseloadAssignment
    from app.extensions import db

    row = db.session.query(CaseloadAssignment).filter_by(therapist_id=world.therapist.id).one()
    row.ends_on = date.today() - timedelta(days=1)
    db.session.commit()
    login(client, world.therapist)
    assert client.get(f"/students/{world.own_student.id}").status_code == 404


def test_restricted_guardian_cannot_see_the_record(client, world, make_user, link_guardian):
    restricted = make_user("guardian", world.district)
    link_guardian(restricted, world.own_student, restricted=True, legal_authority=False)
    login(client, restricted)
    assert client.get(f"/students/{world.own_student.id}").status_code == 404
    home = client.get("/home").get_data(as_text=True)
    assert "access to this student’s records is limited" in home
