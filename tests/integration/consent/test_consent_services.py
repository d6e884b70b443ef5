"""The consent state machine, policies, revocation, expiry and reminders, without HTTP."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.consent import services
from app.consent.models import ConsentGrant, ConsentReminder, ConsentSignature
from app.consent.services import ConsentError, consent_is_active, decide, request_consent, revoke
from app.consent.signals import consent_revoked
from app.extensions import db
from app.notifications.services import outbox_messages

NOW = datetime(2026, 9, 15, 17, 0, tzinfo=UTC)


def _sign(request, guardian, decision="signed", allow=None, now=NOW, **kw):
    allow = set(request.scopes if allow is None else allow)
    return decide(request, guardian, decision=decision, choices={s: s in allow for s in request.scopes},
                  typed_name=guardian.name, confirmed_legal_guardian=True, language=kw.pop("language", "en"),
                  now=now, **kw)


@pytest.fixture
def form(world, consent_form):
    return consent_form(world.district_admin)


@pytest.fixture
def second_guardian(world, make_user, link_guardian):
    guardian = make_user("guardian", world.district, email="g2@family.example")
    link_guardian(guardian, world.own_student)
    return guardian


def _request(world, *, policy="any", scopes=("video_sessions", "games"), now=NOW, expires_on=date(2027, 6, 12)):
    return request_consent(world.therapist, world.own_student, scopes=list(scopes), policy=policy, now=now,
                           expires_on=expires_on).request


def test_requested_then_active_with_one_guardian(world, form):
    request = _request(world)
    assert request.status == "requested"
    assert not consent_is_active(world.own_student, "video_sessions", NOW)
    _sign(request, world.guardian)
    assert request.status == "active"
    assert consent_is_active(world.own_student, "video_sessions", NOW)
    assert consent_is_active(world.own_student, "games", NOW)
    assert not consent_is_active(world.own_student, "mood_checkins", NOW)  # never asked
    assert not consent_is_active(world.own_student, "video_sessions", NOW - timedelta(seconds=1))  # before signing


def test_per_scope_choices_grant_only_what_was_allowed(world, form):
    request = _request(world)
    _sign(request, world.guardian, allow={"video_sessions"})
    assert consent_is_active(world.own_student, "video_sessions", NOW)
    assert not consent_is_active(world.own_student, "games", NOW)


def test_allowing_nothing_is_a_decline(world, form):
    request = _request(world)
    _sign(request, world.guardian, allow=set())
    assert request.status == "declined"


def test_decline_with_reason_is_recorded(world, form):
    request = _request(world)
    signature = _sign(request, world.guardian, decision="declined", decline_reason="Not this year")
    assert request.status == "declined" and signature.decline_reason == "Not this year"
    assert signature.choices == {"video_sessions": False, "games": False}


def test_all_guardians_policy_goes_through_partially_signed(world, form, second_guardian):
    request = _request(world, policy="all")
    assert len(request.invitations) == 2
    _sign(request, world.guardian)
    assert request.status == "partially_signed"
    assert not consent_is_active(world.own_student, "video_sessions", NOW)
    _sign(request, second_guardian, allow={"video_sessions"})
    assert request.status == "active"
    # Under "all", a scope is granted only if every guardian allowed it.
    assert consent_is_active(world.own_student, "video_sessions", NOW)
    assert not consent_is_active(world.own_student, "games", NOW)


def test_all_guardians_policy_one_decline_declines(world, form, second_guardian):
    request = _request(world, policy="all")
    _sign(request, world.guardian)
    _sign(request, second_guardian, decision="declined")
    assert request.status == "declined"
    assert not consent_is_active(world.own_student, "video_sessions", NOW)


def test_any_guardian_policy_first_signature_activates(world, form, second_guardian):
    request = _request(world, policy="any")
    _sign(request, second_guardian)
    assert request.status == "active"


def test_restricted_and_non_legal_guardians_are_not_invited_and_cannot_sign(world, form, make_user, link_guardian):
    restricted = make_user("guardian", world.district)
    link_guardian(restricted, world.own_student, restricted=True)
    no_authority = make_user("guardian", world.district)
    link_guardian(no_authority, world.own_student, legal_authority=False)
    request = _request(world, policy="all")
    assert [i.guardian_id for i in request.invitations] == [world.guardian.id]
    for guardian in (restricted, no_authority):
        with pytest.raises(ConsentError):
            _sign(request, guardian)
    assert request.status == "requested"


def test_double_submission_signs_once(world, form):
    request = _request(world)
    _sign(request, world.guardian)
    with pytest.raises(ConsentError, match="already answered"):
        _sign(request, world.guardian)
    assert db.session.scalar(select(func.count()).select_from(ConsentSignature)) == 1
    assert db.session.scalar(select(func.count()).select_from(ConsentGrant)) == 2


@pytest.mark.parametrize("terminal", ["declined", "revoked", "expired"])
def test_illegal_transitions_are_refused_and_change_nothing(world, form, second_guardian, terminal):
    request = _request(world, policy="any")
    if terminal == "declined":
        _sign(request, world.guardian, decision="declined")
    elif terminal == "revoked":
        _sign(request, world.guardian)
        revoke(request, world.guardian, ["video_sessions", "games"], now=NOW)
    else:
        services.expire_due(datetime(2027, 7, 1, tzinfo=UTC))
    db.session.refresh(request)
    assert request.status == terminal
    before = (request.status, db.session.scalar(select(func.count()).select_from(ConsentSignature)))
    with pytest.raises(ConsentError):
        _sign(request, second_guardian, now=NOW + timedelta(minutes=1))
    with pytest.raises(ConsentError):
        revoke(request, world.guardian, ["video_sessions"], now=NOW)
    db.session.rollback()
    db.session.refresh(request)
    assert (request.status, db.session.scalar(select(func.count()).select_from(ConsentSignature))) == before
    with pytest.raises(ConsentError):
        services._transition(request, "active", NOW)


def test_revoking_one_scope_keeps_the_others_and_sends_the_signal(world, form):
    request = _request(world)
    _sign(request, world.guardian)
    received = []

    def listener(sender, **kw):
        received.append((sender.id, kw))

    consent_revoked.connect(listener)
    try:
        later = NOW + timedelta(days=1)
        assert revoke(request, world.guardian, ["games"], now=later) == ["games"]
    finally:
        consent_revoked.disconnect(listener)
    assert request.status == "active"
    assert not consent_is_active(world.own_student, "games", later)
    assert consent_is_active(world.own_student, "games", later - timedelta(seconds=1))  # history kept
    assert consent_is_active(world.own_student, "video_sessions", later)
    assert received == [(request.id, {"student_id": world.own_student.id, "district_id": world.district.id,
                                      "scopes": ["games"], "revoked_by": world.guardian, "at": later})]


def test_revoking_every_scope_revokes_the_request(world, form):
    request = _request(world)
    _sign(request, world.guardian)
    revoke(request, world.guardian, ["video_sessions", "games"], now=NOW + timedelta(hours=1))
    assert request.status == "revoked"


def test_a_second_legal_guardian_can_revoke(world, form, second_guardian):
    request = _request(world, policy="any")
    _sign(request, world.guardian)
    revoke(request, second_guardian, ["video_sessions"], now=NOW + timedelta(hours=1))
    assert not consent_is_active(world.own_student, "video_sessions", NOW + timedelta(hours=1))


def test_consent_ends_at_the_end_of_its_last_day_in_the_school_zone(world, form):
    request = _request(world, expires_on=date(2027, 6, 12))
    _sign(request, world.guardian)
    # Los Angeles is UTC-7 in June: the last day ends at 07:00 UTC the next morning.
    assert consent_is_active(world.own_student, "video_sessions", datetime(2027, 6, 13, 6, 59, tzinfo=UTC))
    assert not consent_is_active(world.own_student, "video_sessions", datetime(2027, 6, 13, 7, 0, tzinfo=UTC))


def test_expire_due_is_idempotent(world, form):
    request = _request(world, expires_on=date(2026, 10, 1))
    _sign(request, world.guardian)
    open_request = _request(world, expires_on=date(2026, 10, 1))
    after = datetime(2026, 10, 3, tzinfo=UTC)
    assert services.expire_due(NOW) == 0
    assert services.expire_due(after) == 2
    assert services.expire_due(after) == 0
    assert request.status == open_request.status == "expired"
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "consent.expired")) == 2


def test_send_reminders_is_idempotent_with_a_fixed_clock(app, world, form):
    from app.consent.cli import send_reminders

    request = _request(world, now=NOW, expires_on=date(2026, 10, 10))
    assert send_reminders(NOW + timedelta(days=1)) == 0  # too early
    assert send_reminders(NOW + timedelta(days=4)) == 1
    assert send_reminders(NOW + timedelta(days=5)) == 0  # never twice
    assert "Reminder" in outbox_messages()[0].subject
    _sign(request, world.guardian, now=NOW + timedelta(days=6))
    # Expiry reminders: within 30 days of the end, once.
    assert send_reminders(NOW + timedelta(days=7)) == 1
    assert send_reminders(NOW + timedelta(days=8)) == 0
    kinds = sorted(r.kind for r in db.session.scalars(select(ConsentReminder)))
    assert kinds == ["expiring", "unsigned"]


def test_cli_jobs_run_with_a_fixed_now(app, world, form):
    request = _request(world, expires_on=date(2026, 10, 1))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["consent", "expire-due", "--now", "2026-10-05T00:00:00"])
    assert result.exit_code == 0 and "Expired 1" in result.output
    result = runner.invoke(args=["consent", "expire-due", "--now", "2026-10-05T00:00:00"])
    assert "Expired 0" in result.output
    db.session.refresh(request)
    assert request.status == "expired"
    assert runner.invoke(args=["consent", "send-reminders"]).exit_code == 0


def test_new_form_version_does_not_change_what_was_signed(world, form, consent_form):
    request = _request(world)
    signature = _sign(request, world.guardian, language="es")
    original = signature.text_snapshot
    assert "Pedimos su consentimiento" in original
    assert signature.text_sha256 == services.text_hash(original)
    newer = consent_form(world.district_admin, body_es="Un texto completamente nuevo.")
    assert newer.version == form.version + 1
    db.session.refresh(signature)
    assert signature.text_snapshot == original and signature.template_version == form.version


def test_request_needs_a_published_form_and_a_legal_guardian(world, make_student):
    with pytest.raises(ConsentError, match="not published a consent form"):
        _request(world)


def test_request_needs_a_legal_guardian(world, form, make_student, assign):
    orphan = make_student(world.school_a)
    assign(world.therapist, orphan)
    with pytest.raises(ConsentError, match="no guardian with legal authority"):
        request_consent(world.therapist, orphan, scopes=["video_sessions"], now=NOW)


def test_invitation_links_tampered_expired_and_superseded(app, world, form):
    request = _request(world)
    invitation = request.invitations[0]
    key = app.config["SECRET_KEY"]
    token = services.invitation_token(invitation, key)
    assert services.invitation_from_token(token, key).id == invitation.id
    assert services.invitation_from_token(token[:-3] + "abc", key) is None
    assert services.invitation_from_token(token, "another key") is None
    assert services.invitation_from_token(token, key, max_age=timedelta(seconds=-1)) is None
    services.resend_invitation(world.therapist, invitation, now=NOW)
    assert services.invitation_from_token(token, key) is None  # superseded by the new link
    assert services.invitation_from_token(services.invitation_token(invitation, key), key).id == invitation.id


def test_drawn_signature_must_be_a_real_small_png(world, form):
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 90), "white").save(buffer, format="PNG")
    good = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert services.clean_signature_png(good).startswith("data:image/png;base64,")
    for bad in ("data:image/svg+xml;base64,PHN2Zz4=", "data:image/png;base64,not-base64!!",
                "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode(),
                "data:image/png;base64," + "A" * 400_000):
        with pytest.raises(ConsentError):
            services.clean_signature_png(bad)
