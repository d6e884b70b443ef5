"""Consent through HTTP: request, invitation link, signing in Spanish, PDF, revocation, views."""

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.auth.models import User
from app.consent.models import ConsentRequest, ConsentSignature
from app.consent.services import consent_is_active
from app.db_types import utcnow
from app.extensions import db
from app.notifications.services import clear_outbox, outbox_messages
from tests.conftest import csrf_from, get_csrf, login, post


@pytest.fixture
def form(world, consent_form):
    return consent_form(world.district_admin)


def _request_via_http(app, world, scopes=("video_sessions", "games", "mood_checkins")):
    therapist = app.test_client()
    login(therapist, world.therapist)
    page = therapist.get(f"/consent/students/{world.own_student.id}/request")
    assert page.status_code == 200
    response = therapist.post(
        f"/consent/students/{world.own_student.id}/request",
        data={"scopes": list(scopes), "policy": "any", "expires_on": "",
              "csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    return therapist, db.session.scalar(select(ConsentRequest).order_by(ConsentRequest.id.desc()))


def _invite_link() -> str:
    text = outbox_messages()[0].text
    return re.search(r"http://localhost(/consent/invite/\S+)", text).group(1)


def test_full_flow_request_sign_in_spanish_pdf_revoke(app, client, world, form):
    world.guardian.preferred_language = "es"
    db.session.commit()
    therapist, request = _request_via_http(app, world)
    assert request.status == "requested"
    mail = outbox_messages()
    assert len(mail) == 1 and mail[0].to == world.guardian.email
    assert "consentimiento" in mail[0].subject.lower()  # the guardian's language

    link = _invite_link()
    response = client.get(link)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, world.guardian)
    sign_url = f"/consent/requests/{request.id}/sign"
    page = client.get(sign_url).get_data(as_text=True)
    assert "Pedimos su consentimiento" in page and "Permitir" in page
    response = client.post(sign_url, data={
        "csrf_token": csrf_from(page), "decision": "signed", "typed_name": "Guardian Full Name", "confirm": "y",
        "scope_video_sessions": "allow", "scope_games": "deny", "scope_mood_checkins": "allow",
    })
    assert response.status_code == 302
    db.session.expire_all()
    request = db.session.get(ConsentRequest, request.id)
    assert request.status == "active"
    signature = request.signatures[0]
    assert signature.language == "es" and signature.choices == {
        "video_sessions": True, "games": False, "mood_checkins": True}
    assert signature.ip == "127.0.0.1" and signature.user_agent
    now = utcnow()
    assert consent_is_active(world.own_student, "video_sessions", now)
    assert not consent_is_active(world.own_student, "games", now)

    # The PDF copy, downloaded by the guardian, the therapist and the district admin.
    pdf = client.get(f"/consent/signatures/{signature.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    for expected in ("SIGNED", "Guardian Full Name", "Sesiones por video: ALLOWED", "NOT ALLOWED",
                     signature.text_sha256, "Pedimos su consentimiento", "127.0.0.1"):
        assert expected in text.replace("\n", " ") or expected in text, expected
    assert therapist.get(f"/consent/signatures/{signature.id}.pdf").status_code == 200
    admin = app.test_client()
    login(admin, world.district_admin)
    assert admin.get(f"/consent/signatures/{signature.id}.pdf").status_code == 200

    # Therapist's caseload view shows it active.
    view = therapist.get("/consent/caseload?filter=active").get_data(as_text=True)
    assert "Own Student" in view

    # Revoke one scope as the guardian; the therapist is emailed and the view changes.
    clear_outbox()
    response = post(client, f"/consent/requests/{request.id}/revoke", {"scopes": ["video_sessions"]},
                    token_from=sign_url)
    assert response.status_code == 302
    assert not consent_is_active(world.own_student, "video_sessions", utcnow())
    assert consent_is_active(world.own_student, "mood_checkins", utcnow())
    mails = outbox_messages()
    assert [m.to for m in mails] == [world.therapist.email]
    assert "video sessions" in mails[0].text and "Own" not in mails[0].subject
    record_page = therapist.get(f"/consent/requests/{request.id}").get_data(as_text=True)
    assert "withdrawn" in record_page

    # Reusing the emailed link after answering shows the answer; it never signs again.
    reused = client.get(link)
    assert reused.status_code == 302 and reused.headers["Location"] == sign_url
    again = client.get(sign_url).get_data(as_text=True)
    assert "Su respuesta" in again and 'id="consent-form"' not in again

    from app.audit.models import AuditEvent

    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
               if e.action.startswith("consent.")]
    assert actions == ["consent.template_published", "consent.requested", "consent.signed", "consent.copy_downloaded",
                       "consent.copy_downloaded", "consent.copy_downloaded", "consent.revoked"]


def test_guardian_without_account_sets_password_bound_to_invited_email(app, client, world, form, make_user,
                                                                       link_guardian):
    newcomer = make_user("guardian", world.district, email="new.parent@family.example", password_hash=None)
    link_guardian(newcomer, world.own_student)
    _request_via_http(app, world)
    link = next(re.search(r"http://localhost(/consent/invite/\S+)", m.text).group(1)
                for m in outbox_messages() if m.to == newcomer.email)
    page = client.get(link)
    assert page.status_code == 200 and "new.parent@family.example" in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'name="email"' not in html  # the email cannot be changed
    password = "a sturdy family passphrase"
    response = client.post(link, data={"password": password, "confirm": password, "csrf_token": csrf_from(html)})
    assert response.status_code == 302 and "/sign" in response.headers["Location"]
    assert client.get(response.headers["Location"]).status_code == 200
    db.session.expire_all()
    assert db.session.get(User, newcomer.id).password_hash
    # The link cannot set the password again.
    other = app.test_client()
    again = other.get(link)
    assert again.status_code == 302 and "/login" in again.headers["Location"]
    assert login(other, "new.parent@family.example", password).status_code == 302


@pytest.mark.parametrize("mangle", ["tamper", "garbage", "superseded"])
def test_bad_invitation_links_are_refused(app, client, world, form, mangle):
    _request_via_http(app, world)
    link = _invite_link()
    if mangle == "tamper":
        link = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    elif mangle == "garbage":
        link = "/consent/invite/" + "x" * 500
    else:
        therapist = app.test_client()
        login(therapist, world.therapist)
        request = db.session.scalar(select(ConsentRequest))
        post(therapist, f"/consent/invitations/{request.invitations[0].id}/resend",
             token_from=f"/consent/requests/{request.id}")
    response = client.get(link)
    assert response.status_code == 400 and "This link does not work" in response.get_data(as_text=True)


def test_invitation_opened_while_signed_in_as_someone_else(app, client, world, form, make_user, link_guardian):
    _request_via_http(app, world)
    link = _invite_link()
    stranger = make_user("guardian", world.district)
    login(client, stranger)
    response = client.get(link)
    assert response.status_code == 403 and "for someone else" in response.get_data(as_text=True)


def test_other_family_and_other_district_get_404(app, client, world, form, make_user, link_guardian, grant_consent):
    request = grant_consent(world.own_student, world.therapist)
    signature = db.session.scalar(select(ConsentSignature))
    other_parent = make_user("guardian", world.district)
    link_guardian(other_parent, world.other_student)
    login(client, other_parent)
    for path in (f"/consent/requests/{request.id}/sign", f"/consent/signatures/{signature.id}.pdf",
                 f"/consent/requests/{request.id}"):
        assert client.get(path).status_code == 404, path
    response = post(client, f"/consent/requests/{request.id}/revoke", {"scopes": ["games"]})
    assert response.status_code == 404
    foreign = app.test_client()
    login(foreign, world.foreign_admin)
    for path in (f"/consent/requests/{request.id}", f"/consent/signatures/{signature.id}.pdf",
                 f"/consent/students/{world.own_student.id}/request", f"/consent/schools/{world.school_a.id}"):
        assert foreign.get(path).status_code == 404, path
    assert consent_is_active(world.own_student, "games", utcnow())


def test_restricted_guardian_cannot_sign_see_or_revoke(app, client, world, make_user, link_guardian, grant_consent):
    restricted = make_user("guardian", world.district)
    link_guardian(restricted, world.own_student, restricted=True)
    request = grant_consent(world.own_student, world.therapist)
    login(client, restricted)
    assert client.get(f"/consent/requests/{request.id}/sign").status_code == 404
    assert post(client, f"/consent/requests/{request.id}/revoke", {"scopes": ["games"]}).status_code == 404
    assert "Own Student" not in client.get("/consent/").get_data(as_text=True)


def test_therapist_cannot_request_for_students_off_caseload(app, client, world, form):
    login(client, world.therapist)
    assert client.get(f"/consent/students/{world.other_student.id}/request").status_code == 404


def test_double_submission_over_http_signs_once(app, client, world, form):
    _, request = _request_via_http(app, world)
    login(client, world.guardian)
    sign_url = f"/consent/requests/{request.id}/sign"
    token = get_csrf(client, sign_url)
    data = {"csrf_token": token, "decision": "signed", "typed_name": "G Name", "confirm": "y",
            "scope_video_sessions": "allow", "scope_games": "allow", "scope_mood_checkins": "allow"}
    assert client.post(sign_url, data=data).status_code == 302
    assert client.post(sign_url, data=data).status_code == 200
    assert len(db.session.scalars(select(ConsentSignature)).all()) == 1


def test_sign_form_explains_what_is_missing(app, client, world, form):
    _, request = _request_via_http(app, world)
    login(client, world.guardian)
    sign_url = f"/consent/requests/{request.id}/sign"
    response = client.post(sign_url, data={"csrf_token": get_csrf(client, sign_url), "decision": "signed",
                                           "typed_name": "G Name"})
    assert response.status_code == 200
    assert "Confirm that you are this student" in response.get_data(as_text=True)
    db.session.refresh(request)
    assert request.status == "requested"


def test_admin_school_overview_filters(app, client, world, form, grant_consent):
    grant_consent(world.own_student, world.therapist)
    login(client, world.school_admin)
    active = client.get(f"/consent/schools/{world.school_a.id}?filter=active").get_data(as_text=True)
    missing = client.get(f"/consent/schools/{world.school_a.id}?filter=missing").get_data(as_text=True)
    assert "Own Student" in active and "Other Student" not in active
    assert "Other Student" in missing and "Own Student" not in missing
    assert client.get(f"/consent/schools/{world.school_b.id}").status_code == 404


def test_district_admin_publishes_a_new_form_version(app, client, world, form):
    login(client, world.district_admin)
    page = client.get("/consent/forms").get_data(as_text=True)
    response = client.post("/consent/forms", data={
        "csrf_token": csrf_from(page), "title_en": "New title", "body_en": "New body",
        "title_es": "Nuevo título", "body_es": "Nuevo texto", "scopes": ["video_sessions"]})
    assert response.status_code == 302
    assert "New title" in client.get("/consent/forms").get_data(as_text=True)
