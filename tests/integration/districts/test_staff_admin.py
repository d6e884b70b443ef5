"""Staff management: invitations by email (single-use signed link), role changes, schools served, deactivation."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User, UserSession
from app.extensions import db
from app.notifications.services import outbox_messages
from tests.conftest import csrf_from, login, post

NEW_PASSWORD = "violet tractor seventy lamps"


def _invite(client, **data):
    form = {"name": "Robin Park", "email": "robin.park@alpha.example", "role": "therapist", **data}
    return post(client, "/staff/invite", form, token_from="/staff/invite")


def _link() -> str:
    message = outbox_messages()[0]
    match = re.search(r"https?://\S+/welcome/(\S+)", message.text)
    assert match, message.text
    return "/welcome/" + match.group(1)


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_district_admin_can_invite_staff_who_set_a_password_once(app, login_as, world):
    client = login_as(world.district_admin)
    response = _invite(client, schools=[str(world.school_a.id), str(world.school_b.id)])
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "robin.park@alpha.example"))
    assert user.role == "therapist" and user.password_hash is None and user.district_id == world.district.id
    assert {s.id for s in user.schools} == {world.school_a.id, world.school_b.id}
    [message] = outbox_messages()
    assert message.to == "robin.park@alpha.example" and "invited you to Homeroom" in message.text
    link = _link()
    assert _audit("staff.invited")[0].target_id == user.id

    newcomer = app.test_client()
    page = newcomer.get(link)
    assert page.status_code == 200 and "Robin Park" in page.get_data(as_text=True)
    response = newcomer.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                         "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(app.test_client(), "robin.park@alpha.example", NEW_PASSWORD).status_code == 302
    assert _audit("staff.invitation_accepted")

    # Single use: the same link no longer works.
    assert app.test_client().get(link).status_code == 400


def test_anonymous_cannot_use_a_tampered_or_expired_invitation(app, login_as, world):
    client = login_as(world.district_admin)
    _invite(client, schools=[str(world.school_a.id)])
    link = _link()
    assert app.test_client().get(link[:-3] + "abc").status_code == 400
    assert app.test_client().get("/welcome/" + "x" * 40).status_code == 400
    app.config["STAFF_INVITE_MAX_AGE"] = timedelta(seconds=-1)
    assert app.test_client().get(link).status_code == 400


def test_anonymous_cannot_use_an_invitation_after_deactivation(app, login_as, world):
    from app.auth.services import deactivate_user

    client = login_as(world.district_admin)
    _invite(client, schools=[str(world.school_a.id)])
    link = _link()
    user = db.session.scalar(select(User).where(User.email == "robin.park@alpha.example"))
    deactivate_user(world.district_admin, user, ip=None)
    assert app.test_client().get(link).status_code == 400


def test_school_admin_can_invite_a_therapist_for_their_school_only(login_as, world):
    client = login_as(world.school_admin)
    assert _invite(client).status_code == 302
    user = db.session.scalar(select(User).where(User.email == "robin.park@alpha.example"))
    assert [s.id for s in user.schools] == [world.school_a.id]
    refused = _invite(client, email="second@alpha.example", schools=[str(world.school_b.id)])
    assert refused.status_code == 400
    refused = _invite(client, email="third@alpha.example", role="district_admin")
    assert refused.status_code == 400
    assert db.session.scalar(select(User).where(User.email.in_(["second@alpha.example", "third@alpha.example"]))) is None


def test_district_admin_cannot_invite_an_existing_email(login_as, world):
    client = login_as(world.district_admin)
    response = _invite(client, email=world.therapist.email, schools=[str(world.school_a.id)])
    assert response.status_code == 400 and "already has an account" in response.get_data(as_text=True)
    assert outbox_messages() == []


def test_district_admin_can_change_a_role_which_signs_the_person_out(app, login_as, world):
    other = app.test_client()
    assert login(other, world.therapist).status_code == 302
    client = login_as(world.district_admin)
    response = post(client, f"/staff/{world.therapist.id}/role", {"role": "school_admin", "school": world.school_b.id})
    assert response.status_code == 302
    db.session.refresh(world.therapist)
    assert world.therapist.role == "school_admin" and world.therapist.school_id == world.school_b.id
    assert world.therapist.schools == []
    [event] = _audit("staff.role_changed")
    assert event.details["before"] == "therapist" and event.details["after"] == "school_admin"
    assert db.session.scalar(select(UserSession).where(UserSession.user_id == world.therapist.id,
                                                       UserSession.revoked_at.is_(None))) is None
    assert other.get("/home").status_code == 302  # signed out


def test_district_admin_cannot_change_their_own_role(login_as, world):
    client = login_as(world.district_admin)
    assert post(client, f"/staff/{world.district_admin.id}/role", {"role": "therapist"}).status_code == 404
    db.session.refresh(world.district_admin)
    assert world.district_admin.role == "district_admin"


def test_school_admin_cannot_change_roles(login_as, world):
    client = login_as(world.school_admin)
    assert post(client, f"/staff/{world.therapist.id}/role", {"role": "district_admin"}).status_code == 403
    db.session.refresh(world.therapist)
    assert world.therapist.role == "therapist"


def test_district_admin_can_set_the_schools_a_therapist_serves(login_as, world):
    client = login_as(world.district_admin)
    post(client, f"/staff/{world.therapist.id}/schools", {"schools": [world.school_a.id, world.school_b.id]})
    db.session.refresh(world.therapist)
    assert {s.id for s in world.therapist.schools} == {world.school_a.id, world.school_b.id}
    assert _audit("staff.schools_changed")


def test_school_admin_can_only_remove_their_own_school_from_a_therapist(login_as, world):
    world.therapist.schools = [world.school_a, world.school_b]
    db.session.commit()
    client = login_as(world.school_admin)
    post(client, f"/staff/{world.therapist.id}/schools", {"schools": []})
    db.session.refresh(world.therapist)
    assert [s.id for s in world.therapist.schools] == [world.school_b.id]


def test_district_admin_can_deactivate_and_reactivate_a_therapist_audited(login_as, world):
    client = login_as(world.district_admin)
    post(client, f"/staff/{world.therapist.id}/deactivate")
    db.session.refresh(world.therapist)
    assert not world.therapist.active
    post(client, f"/staff/{world.therapist.id}/reactivate")
    db.session.refresh(world.therapist)
    assert world.therapist.active
    assert [e.target_id for e in _audit("user.deactivated")] == [world.therapist.id]
    assert [e.target_id for e in _audit("user.reactivated")] == [world.therapist.id]


def test_district_admin_can_resend_a_pending_invitation(login_as, world):
    client = login_as(world.district_admin)
    _invite(client, schools=[str(world.school_a.id)])
    user = db.session.scalar(select(User).where(User.email == "robin.park@alpha.example"))
    post(client, f"/staff/{user.id}/resend-invitation")
    assert len(outbox_messages()) == 2
    post(client, f"/staff/{world.therapist.id}/resend-invitation")  # has a password: nothing sent
    assert len(outbox_messages()) == 2
