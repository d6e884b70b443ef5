import csv
import io

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from app.audit.models import AuditEvent
from app.audit.services import record
from app.extensions import db
from tests.conftest import login


def _actions():
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_login_logout_failed_login_and_record_views_are_audited(app, client, world):
    from tests.conftest import post

    login(client, world.therapist, "wrong password 123")
    login(client, world.therapist)
    client.get(f"/students/{world.own_student.id}")
    post(client, "/logout")
    assert _actions() == ["auth.login_failed", "auth.login", "student.viewed", "auth.logout"]
    viewed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "student.viewed"))
    assert viewed.student_id == world.own_student.id
    assert viewed.actor_id == world.therapist.id and viewed.district_id == world.district.id
    assert viewed.ip == "127.0.0.1"


def test_refused_record_view_is_not_logged_as_a_view(client, world):
    login(client, world.therapist)
    assert client.get(f"/students/{world.other_student.id}").status_code == 404
    assert "student.viewed" not in _actions()


def test_audit_log_is_append_only_in_the_database(app, world):
    record("test.event", actor=world.district_admin)
    db.session.commit()
    with pytest.raises(DatabaseError):
        db.session.execute(text("UPDATE audit_events SET action = 'rewritten'"))
        db.session.commit()
    db.session.rollback()
    with pytest.raises(DatabaseError):
        db.session.execute(text("DELETE FROM audit_events"))
        db.session.commit()
    db.session.rollback()
    assert _actions() == ["test.event"]


def test_audit_details_refuse_clinical_keys(app, world):
    with pytest.raises(ValueError):
        record("session.note", actor=world.therapist, note="the student said ...")


def test_district_admin_can_filter_and_export_the_audit_log(client, world):
    login(client, world.therapist)
    client.get(f"/students/{world.own_student.id}")
    admin = client.application.test_client()
    login(admin, world.district_admin)
    page = admin.get(f"/audit/?action=student.&student={world.own_student.id}").get_data(as_text=True)
    assert "student.viewed" in page and "auth.login" not in page.split("<tbody>")[1]
    export = admin.get(f"/audit/export.csv?actor={world.therapist.id}")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert {r["action"] for r in rows} == {"auth.login", "student.viewed"}
    assert all(r["actor"] == f"therapist:{world.therapist.id}" for r in rows)
    assert "audit.exported" in _actions()


def test_audit_log_shows_only_the_admins_district(client, world):
    foreign = client.application.test_client()
    login(foreign, world.foreign_admin)
    login(client, world.district_admin)
    body = client.get("/audit/").get_data(as_text=True)
    assert world.foreign_admin.name not in body
    rows = list(csv.DictReader(io.StringIO(client.get("/audit/export.csv").get_data(as_text=True))))
    assert all(r["actor"] != f"district_admin:{world.foreign_admin.id}" for r in rows)
