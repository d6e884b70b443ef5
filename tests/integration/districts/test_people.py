"""Schools, students and guardian links edited by administrators: scoped, audited, no names in the log."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.districts.models import GuardianLink, School
from app.extensions import db
from tests.conftest import post


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _student_form(student, **kw):
    return {"first_name": student.first_name, "last_name": student.last_name, "preferred_name": "",
            "grade": student.grade, "school": student.school_id, "language": student.preferred_language,
            "active": "y", **kw}


def test_district_admin_can_create_and_rename_a_school(login_as, world):
    client = login_as(world.district_admin)
    response = post(client, "/schools/new", {"name": "Alpha High", "timezone": "America/Chicago"})
    assert response.status_code == 302
    school = db.session.scalar(select(School).where(School.name == "Alpha High"))
    assert school.district_id == world.district.id and school.timezone == "America/Chicago"
    post(client, f"/schools/{school.id}/edit", {"name": "Alpha High School", "timezone": "America/Denver"})
    db.session.refresh(school)
    assert (school.name, school.timezone) == ("Alpha High School", "America/Denver")
    assert _events("school.created") and _events("school.updated")[0].details["fields"] == "name,timezone"


def test_district_admin_cannot_create_a_school_with_a_bad_time_zone_or_duplicate_name(login_as, world):
    client = login_as(world.district_admin)
    post(client, "/schools/new", {"name": "Somewhere", "timezone": "Mars/Olympus"})
    post(client, "/schools/new", {"name": world.school_a.name, "timezone": "America/Chicago"})
    assert db.session.scalar(select(School).where(School.name == "Somewhere")) is None
    assert len(db.session.scalars(select(School).where(School.name == world.school_a.name)).all()) == 1


def test_school_admin_can_rename_their_school_but_not_create_one(login_as, world):
    client = login_as(world.school_admin)
    assert post(client, "/schools/new", {"name": "Mine", "timezone": "America/Chicago"}).status_code == 403
    post(client, f"/schools/{world.school_a.id}/edit", {"name": "Alpha Elementary East", "timezone": "America/Chicago"})
    db.session.refresh(world.school_a)
    assert world.school_a.name == "Alpha Elementary East"
    assert post(client, f"/schools/{world.school_b.id}/edit",
                {"name": "Taken over", "timezone": "America/Chicago"}).status_code == 404


def test_district_admin_can_edit_a_student_and_the_audit_names_fields_only(login_as, world):
    client = login_as(world.district_admin)
    student = world.other_student
    response = post(client, f"/students/{student.id}/edit",
                    _student_form(student, preferred_name="Ollie", grade="5", school=world.school_b.id,
                                  language="es", active=""))
    assert response.status_code == 302
    db.session.refresh(student)
    assert (student.preferred_name, student.grade, student.school_id, student.preferred_language, student.active) == (
        "Ollie", "5", world.school_b.id, "es", False)
    [event] = _events("student.updated")
    assert event.student_id == student.id
    assert set(event.details["fields"].split(",")) == {"preferred_name", "grade", "school_id", "preferred_language",
                                                       "active"}
    assert "Ollie" not in str(event.details)


def test_school_admin_cannot_move_a_student_to_another_school(login_as, world):
    client = login_as(world.school_admin)
    student = world.other_student
    response = post(client, f"/students/{student.id}/edit", _student_form(student, school=world.school_b.id),
                    follow_redirects=True)
    assert "Choose a school you manage" in response.get_data(as_text=True)
    db.session.refresh(student)
    assert student.school_id == world.school_a.id
    assert post(client, f"/students/{world.school_b_student.id}/edit",
                _student_form(world.school_b_student)).status_code == 404


def test_therapist_cannot_edit_students(login_as, world):
    client = login_as(world.therapist)
    assert post(client, f"/students/{world.own_student.id}/edit", _student_form(world.own_student)).status_code == 403


def test_district_admin_can_add_edit_and_remove_a_guardian_link(login_as, world):
    client = login_as(world.district_admin)
    student = world.other_student
    post(client, f"/students/{student.id}/guardians", {"email": "New.Parent@Family.example", "name": "New Parent",
                                                      "relationship": "grandparent", "legal": "y"})
    link = db.session.scalar(select(GuardianLink).where(GuardianLink.student_id == student.id))
    guardian = db.session.get(User, link.guardian_id)
    assert guardian.email == "new.parent@family.example" and guardian.role == "guardian"
    assert guardian.password_hash is None
    assert (link.relationship_label, link.legal_authority, link.restricted) == ("grandparent", True, False)

    post(client, f"/guardian-links/{link.id}", {"relationship": "parent", "restricted": "y"})
    db.session.refresh(link)
    assert (link.relationship_label, link.legal_authority, link.restricted) == ("parent", False, True)

    post(client, f"/guardian-links/{link.id}/remove")
    assert db.session.scalar(select(GuardianLink.id).where(GuardianLink.id == link.id)) is None
    actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.student_id == student.id)
                                                    .order_by(AuditEvent.id))]
    assert actions.count("guardian_link.added") == 1
    assert "guardian_link.updated" in actions and "guardian_link.removed" in actions


def test_district_admin_can_link_an_existing_guardian_but_not_a_staff_account(login_as, world):
    client = login_as(world.district_admin)
    post(client, f"/students/{world.other_student.id}/guardians",
         {"email": world.guardian.email, "relationship": "parent", "legal": "y"})
    assert db.session.scalar(select(GuardianLink).where(GuardianLink.student_id == world.other_student.id,
                                                        GuardianLink.guardian_id == world.guardian.id))
    post(client, f"/students/{world.school_b_student.id}/guardians",
         {"email": world.therapist.email, "relationship": "parent"})
    assert db.session.scalar(select(GuardianLink).where(GuardianLink.student_id == world.school_b_student.id)) is None


def test_school_admin_cannot_manage_links_of_another_school_or_district(login_as, world, link_guardian, make_user):
    other_parent = make_user("guardian", world.district)
    school_b_link = link_guardian(other_parent, world.school_b_student)
    client = login_as(world.school_admin)
    assert post(client, f"/guardian-links/{school_b_link.id}/remove").status_code == 404
    foreign_parent = make_user("guardian", world.foreign_district)
    foreign_link = link_guardian(foreign_parent, world.foreign_student)
    assert post(client, f"/guardian-links/{foreign_link.id}/remove").status_code == 404
    assert db.session.get(GuardianLink, school_b_link.id) and db.session.get(GuardianLink, foreign_link.id)


def test_district_admin_cannot_reach_another_districts_people(login_as, world):
    client = login_as(world.district_admin)
    assert post(client, f"/schools/{world.foreign_school.id}/edit", {"name": "X", "timezone": "UTC"}).status_code == 404
    assert client.get(f"/students/{world.foreign_student.id}/edit").status_code == 404
    assert client.get(f"/staff/{world.foreign_therapist.id}").status_code == 404


def test_district_admin_sees_paginated_guardians_and_history(login_as, world, make_user, link_guardian):
    for _ in range(55):
        link_guardian(make_user("guardian", world.district), world.other_student)
    client = login_as(world.district_admin)
    first = client.get(f"/students/{world.other_student.id}").get_data(as_text=True)
    assert "Page 1 of 2" in first and "links_page=2" in first
    second = client.get(f"/students/{world.other_student.id}?links_page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second
