"""The consent workflow: templates, requests, invitations, signing, revocation, expiry.

State machine of a ConsentRequest:

    requested --(a guardian signs, policy "all", others pending)--> partially_signed
    requested | partially_signed --(enough signatures)--> active
    requested | partially_signed --(a guardian declines, or allows no scope)--> declined
    requested | partially_signed | active --(expires_at passes)--> expired
    active --(every granted scope revoked)--> revoked

Anything else is refused with ConsentError and changes nothing. Every public function here is
one transaction; emails and signals go out after it commits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.audit.services import record
from app.auth.models import User
from app.consent.models import (
    OPEN_STATUSES,
    SCOPES,
    ConsentGrant,
    ConsentInvitation,
    ConsentRequest,
    ConsentSignature,
    ConsentTemplate,
)
from app.consent.signals import consent_revoked
from app.db_types import utcnow
from app.districts.models import GuardianLink, Student
from app.extensions import db

LINK_LIFETIME = timedelta(days=14)
MAX_SIGNATURE_PNG_BYTES = 150_000

TRANSITIONS = {
    "requested": {"partially_signed", "active", "declined", "expired"},
    "partially_signed": {"active", "declined", "expired"},
    "active": {"revoked", "expired"},
    "declined": set(),
    "expired": set(),
    "revoked": set(),
}

def N_(text: str) -> str:
    """Marks a string for translation (extracted by pybabel) without translating it here."""
    return text


STATUS_LABELS = {
    "requested": N_("Waiting for a guardian"),
    "partially_signed": N_("Signed by some guardians"),
    "active": N_("Active"),
    "declined": N_("Declined"),
    "expired": N_("Expired"),
    "revoked": N_("Revoked"),
}


class ConsentError(ValueError):
    """A refused consent operation, with a message meant for the person."""


def _transition(request: ConsentRequest, to: str, now: datetime) -> None:
    if to not in TRANSITIONS[request.status]:
        raise ConsentError(
            f"This consent is {STATUS_LABELS[request.status].lower()}, so it cannot become {to.replace('_', ' ')}."
        )
    request.status = to
    if to in ("active", "declined"):
        request.decided_at = now
    if to in ("declined", "expired", "revoked"):
        request.closed_at = now


# --- the one question everyone asks --------------------------------------------------------


def consent_active_clause(student_id: int, scope: str, at: datetime):
    """SQL: a guardian's consent for `scope` covers the student at the instant `at`."""
    return exists().where(
        ConsentGrant.student_id == student_id,
        ConsentGrant.scope == scope,
        ConsentGrant.granted_at <= at,
        ConsentGrant.expires_at > at,
        or_(ConsentGrant.revoked_at.is_(None), ConsentGrant.revoked_at > at),
    )


def consent_is_active(student: Student | int, scope: str, at: datetime) -> bool:
    """True when a guardian's consent for `scope` covers `student` at the instant `at`."""
    student_id = student if isinstance(student, int) else student.id
    return bool(db.session.scalar(select(consent_active_clause(student_id, scope, at))))


def active_scopes(student: Student | int, at: datetime) -> set[str]:
    return {scope for scope in SCOPES if consent_is_active(student, scope, at)}


# --- templates --------------------------------------------------------------------------------


def latest_template(district_id: int) -> ConsentTemplate | None:
    return db.session.scalar(
        select(ConsentTemplate).where(ConsentTemplate.district_id == district_id).order_by(ConsentTemplate.version.desc())
    )


def publish_template(actor: User, *, title_en: str, title_es: str, body_en: str, body_es: str,
                     scopes: list[str], ip: str | None = None, now: datetime | None = None) -> ConsentTemplate:
    """Publish a new version. Earlier versions, and everything signed on them, stay as they were."""
    now = now or utcnow()
    scopes = [s for s in SCOPES if s in set(scopes)]
    if not scopes:
        raise ConsentError("Choose at least one thing this form asks consent for.")
    for label, text in (("English title", title_en), ("Spanish title", title_es),
                        ("English text", body_en), ("Spanish text", body_es)):
        if not (text or "").strip():
            raise ConsentError(f"The {label} is empty.")
    previous = latest_template(actor.district_id)
    template = ConsentTemplate(
        district_id=actor.district_id,
        version=(previous.version + 1) if previous else 1,
        title_en=title_en.strip(), title_es=title_es.strip(),
        body_en=body_en.strip(), body_es=body_es.strip(),
        scopes=scopes, created_by_id=actor.id, published_at=now,
    )
    db.session.add(template)
    db.session.flush()
    record("consent.template_published", actor=actor, target=template, ip=ip, now=now, version=template.version)
    db.session.commit()
    return template


def form_text(template: ConsentTemplate, lang: str) -> str:
    """The exact text a guardian reads and signs; its SHA-256 is stored with the signature."""
    return f"{template.title(lang)}\n\n{template.body(lang)}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- requests ---------------------------------------------------------------------------------


def legal_guardians(student: Student) -> list[User]:
    """Guardians who may sign: legal authority, link not restricted, account active."""
    return list(
        db.session.scalars(
            select(User)
            .join(GuardianLink, GuardianLink.guardian_id == User.id)
            .where(
                GuardianLink.student_id == student.id,
                GuardianLink.legal_authority.is_(True),
                GuardianLink.restricted.is_(False),
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )


def end_of_day(day: date, tz_name: str) -> datetime:
    """The first instant after `day` ends in the school's time zone (exclusive bound)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=ZoneInfo(tz_name))


@dataclass
class NewRequest:
    request: ConsentRequest
    invitations: list[ConsentInvitation]


def request_consent(actor: User, student: Student, *, scopes: list[str], expires_on: date | None = None,
                    policy: str | None = None, ip: str | None = None, now: datetime | None = None) -> NewRequest:
    """Ask every legal guardian of `student` to decide. Authorization is the caller's job."""
    now = now or utcnow()
    template = latest_template(student.district_id)
    if template is None:
        raise ConsentError("Your district has not published a consent form yet. A district administrator must publish one first.")
    chosen = [s for s in SCOPES if s in set(scopes or [])]
    if not chosen:
        raise ConsentError("Choose at least one thing to ask consent for.")
    not_offered = [s for s in chosen if s not in template.scopes]
    if not_offered:
        raise ConsentError(f"The current form does not cover: {', '.join(not_offered)}.")
    district = student.school.district
    expires_on = expires_on or district.school_year_end
    local_today = now.astimezone(ZoneInfo(student.school.timezone)).date()
    if expires_on < local_today:
        raise ConsentError("The end date must not be in the past.")
    if expires_on > local_today + timedelta(days=366):
        raise ConsentError("Consent can last at most one year.")
    policy = policy or district.consent_policy
    if policy not in ("any", "all"):
        raise ConsentError("Choose whether one guardian or all guardians must sign.")
    guardians = legal_guardians(student)
    if not guardians:
        raise ConsentError("This student has no guardian with legal authority linked. Ask the school office to add one.")
    request = ConsentRequest(
        district_id=student.district_id, student_id=student.id, template_id=template.id, scopes=chosen,
        policy=policy, expires_on=expires_on, expires_at=end_of_day(expires_on, student.school.timezone),
        status="requested", requested_by_id=actor.id, created_at=now,
    )
    db.session.add(request)
    db.session.flush()
    invitations = []
    for guardian in guardians:
        invitation = ConsentInvitation(
            request_id=request.id, guardian_id=guardian.id, email=guardian.email, sent_at=now,
            link_expires_at=now + LINK_LIFETIME, link_nonce=secrets.token_hex(8),
        )
        db.session.add(invitation)
        invitations.append(invitation)
    record("consent.requested", actor=actor, target=request, student_id=student.id, ip=ip, now=now,
           scopes=",".join(chosen), policy=policy, guardians=len(guardians))
    db.session.commit()
    return NewRequest(request, invitations)


# --- invitation links -------------------------------------------------------------------------


def _link_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="homeroom.consent-invitation")


def invitation_token(invitation: ConsentInvitation, secret_key: str) -> str:
    return _link_serializer(secret_key).dumps({"i": invitation.id, "n": invitation.link_nonce})


def invitation_from_token(token: str, secret_key: str, *, max_age: timedelta = LINK_LIFETIME) -> ConsentInvitation | None:
    """The invitation a link names, if the link is genuine, not expired and not superseded."""
    if not token or len(token) > 300:
        return None
    try:
        data = _link_serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        return None
    invitation = db.session.get(ConsentInvitation, data["i"])
    if invitation is None or not secrets.compare_digest(str(data.get("n")), invitation.link_nonce):
        return None
    return invitation


def set_up_guardian_account(invitation: ConsentInvitation, password: str, *, ip: str | None,
                            now: datetime | None = None) -> User:
    """First visit of a guardian without a password: the account is bound to the invited email."""
    from app.auth.services import set_password

    now = now or utcnow()
    guardian = invitation.guardian
    if guardian.password_hash:
        raise ConsentError("This account already has a password. Please sign in.")
    if guardian.email != invitation.email:
        raise ConsentError("This invitation was sent to a different email address.")
    set_password(guardian, password)
    record("auth.account_set_up", actor=guardian, target=guardian, ip=ip, now=now, via="consent_invitation")
    db.session.commit()
    return guardian


# --- signing ----------------------------------------------------------------------------------


def clean_signature_png(data_url: str | None) -> str | None:
    """Accept a drawn signature only as a small, real PNG; re-encode it to drop any metadata."""
    if not data_url:
        return None
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix) or len(data_url) > MAX_SIGNATURE_PNG_BYTES * 4 // 3 + 100:
        raise ConsentError("The drawn signature could not be read. Clear it and draw it again, or leave it empty.")
    try:
        raw = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise ConsentError("The drawn signature could not be read. Clear it and draw it again.") from None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG" or image.width > 2000 or image.height > 1000:
                raise ConsentError("The drawn signature is not a usable image.")
            out = io.BytesIO()
            image.convert("RGBA").save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ConsentError("The drawn signature could not be read. Clear it and draw it again.") from None
    return prefix + base64.b64encode(out.getvalue()).decode()


def _invitation_for(request: ConsentRequest, guardian: User) -> ConsentInvitation | None:
    return next((i for i in request.invitations if i.guardian_id == guardian.id), None)


def _refresh_state(request: ConsentRequest, now: datetime) -> None:
    """Move an open request forward after a decision, granting scopes when it becomes active."""
    decisions = {s.guardian_id: s for s in request.signatures}
    if any(s.decision == "declined" for s in decisions.values()):
        _transition(request, "declined", now)
        return
    if request.policy == "any":
        deciding = list(decisions.values())[:1]
    else:
        invited = {i.guardian_id for i in request.invitations}
        if not invited.issubset(decisions):
            if request.status == "requested":
                _transition(request, "partially_signed", now)
            return
        deciding = list(decisions.values())
    granted = [scope for scope in request.scopes if all(s.choices.get(scope) for s in deciding)]
    if not granted:
        _transition(request, "declined", now)
        return
    _transition(request, "active", now)
    for scope in granted:
        db.session.add(ConsentGrant(
            district_id=request.district_id, request_id=request.id, student_id=request.student_id,
            scope=scope, granted_at=now, expires_at=request.expires_at,
        ))


def decide(request: ConsentRequest, guardian: User, *, decision: str, choices: dict[str, bool], typed_name: str,
           confirmed_legal_guardian: bool, language: str, drawn_signature: str | None = None,
           decline_reason: str | None = None, ip: str | None = None, user_agent: str | None = None,
           now: datetime | None = None) -> ConsentSignature:
    """Record a guardian's signature or decline. A second submission is refused, not doubled."""
    now = now or utcnow()
    invitation = _invitation_for(request, guardian)
    if invitation is None:
        raise ConsentError("You were not asked to sign this form.")
    link = db.session.scalar(select(GuardianLink).where(
        GuardianLink.guardian_id == guardian.id, GuardianLink.student_id == request.student_id))
    if link is None or link.restricted or not link.legal_authority:
        raise ConsentError("Only a guardian with legal authority can sign this form.")
    if invitation.responded_at is not None:
        raise ConsentError("You have already answered this request. Thank you.")
    if request.status not in OPEN_STATUSES:
        raise ConsentError(f"This request is {STATUS_LABELS[request.status].lower()} and can no longer be signed.")
    if now >= request.expires_at:
        raise ConsentError("This request has expired. Please ask the school to send a new one.")
    if decision not in ("signed", "declined"):
        raise ConsentError("Choose whether you give consent or decline.")
    typed_name = " ".join((typed_name or "").split())
    if len(typed_name) < 2 or len(typed_name) > 200:
        raise ConsentError("Type your full name to sign.")
    if not confirmed_legal_guardian:
        raise ConsentError("Confirm that you are this student's parent or legal guardian.")
    clean_choices = {scope: bool(choices.get(scope)) and decision == "signed" for scope in request.scopes}
    text = form_text(request.template, language)
    signature = ConsentSignature(
        request_id=request.id, guardian_id=guardian.id, decision=decision, choices=clean_choices,
        typed_name=typed_name, confirmed_legal_guardian=True,
        drawn_signature_png=clean_signature_png(drawn_signature) if decision == "signed" else None,
        decline_reason=((decline_reason or "").strip()[:1000] or None) if decision == "declined" else None,
        language=language, template_version=request.template.version, text_snapshot=text,
        text_sha256=text_hash(text), signed_at=now, ip=ip, user_agent=(user_agent or "")[:300],
    )
    try:
        db.session.add(signature)
        invitation.responded_at = now
        request.signatures.append(signature)
        _refresh_state(request, now)
        record(f"consent.{decision}", actor=guardian, target=request, student_id=request.student_id, ip=ip,
               now=now, allowed=",".join(s for s, ok in clean_choices.items() if ok), status=request.status)
        db.session.commit()
    except (StaleDataError, IntegrityError):  # a double submission: the first one won
        db.session.rollback()
        raise ConsentError("This form was just answered in another window. Reload the page to see it.") from None
    except Exception:
        # Nothing half-made may stay in the session for the caller's next commit: a signature and
        # grants without their audit event would make consent active with no record of why.
        db.session.rollback()
        raise
    return signature


# --- revocation and expiry --------------------------------------------------------------------


def revoke(request: ConsentRequest, guardian: User, scopes: list[str], *, ip: str | None = None,
           now: datetime | None = None) -> list[str]:
    """Withdraw some or all granted scopes at once. Returns the scopes that were revoked."""
    now = now or utcnow()
    link = db.session.scalar(select(GuardianLink).where(
        GuardianLink.guardian_id == guardian.id, GuardianLink.student_id == request.student_id))
    if link is None or link.restricted or not link.legal_authority:
        raise ConsentError("Only a guardian with legal authority can change this consent.")
    if request.status != "active":
        raise ConsentError(f"This consent is {STATUS_LABELS[request.status].lower()}; there is nothing to revoke.")
    live = {g.scope: g for g in request.grants if g.revoked_at is None}
    chosen = [s for s in SCOPES if s in set(scopes or []) and s in live]
    if not chosen:
        raise ConsentError("Choose at least one permission that is still given.")
    for scope in chosen:
        live[scope].revoked_at = now
        live[scope].revoked_by_id = guardian.id
    if len(chosen) == len(live):
        _transition(request, "revoked", now)
    record("consent.revoked", actor=guardian, target=request, student_id=request.student_id, ip=ip, now=now,
           scopes=",".join(chosen), status=request.status)
    db.session.commit()
    consent_revoked.send(request, student_id=request.student_id, district_id=request.district_id,
                         scopes=chosen, revoked_by=guardian, at=now)
    return chosen


def expire_due(now: datetime | None = None) -> int:
    """Mark requests whose end has passed as expired. Idempotent: a second run finds nothing."""
    now = now or utcnow()
    due = db.session.scalars(
        select(ConsentRequest).where(
            ConsentRequest.status.in_(("requested", "partially_signed", "active")),
            ConsentRequest.expires_at <= now,
        )
    ).all()
    for request in due:
        _transition(request, "expired", now)
        record("consent.expired", actor=None, district_id=request.district_id, target=request,
               student_id=request.student_id, now=now)
    db.session.commit()
    return len(due)


# --- reminders ----------------------------------------------------------------------------------


def due_reminders(now: datetime, *, unsigned_after: timedelta, expiring_within: timedelta) -> list[tuple]:
    """(kind, request, invitation) for every reminder that is due and was never sent."""
    from app.consent.models import ConsentReminder

    sent = {(r.request_id, r.guardian_id, r.kind) for r in db.session.scalars(select(ConsentReminder))}
    due = []
    unsigned = db.session.scalars(
        select(ConsentInvitation).join(ConsentRequest).where(
            ConsentRequest.status.in_(OPEN_STATUSES),
            ConsentRequest.expires_at > now,
            ConsentInvitation.responded_at.is_(None),
            ConsentInvitation.sent_at <= now - unsigned_after,
        )
    ).all()
    for invitation in unsigned:
        if (invitation.request_id, invitation.guardian_id, "unsigned") not in sent:
            due.append(("unsigned", invitation.request, invitation))
    expiring = db.session.scalars(
        select(ConsentRequest).where(
            ConsentRequest.status == "active",
            ConsentRequest.expires_at > now,
            ConsentRequest.expires_at <= now + expiring_within,
        )
    ).all()
    for request in expiring:
        for invitation in request.invitations:
            if (request.id, invitation.guardian_id, "expiring") not in sent:
                due.append(("expiring", request, invitation))
    return due


def mark_reminded(kind: str, invitation: ConsentInvitation, now: datetime) -> bool:
    """Claim a reminder before sending it. False if another run already claimed it."""
    from app.consent.models import ConsentReminder

    db.session.add(ConsentReminder(request_id=invitation.request_id, guardian_id=invitation.guardian_id,
                                   kind=kind, sent_at=now))
    if kind == "unsigned":
        invitation.reminded_at = now
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def resend_invitation(actor: User, invitation: ConsentInvitation, *, ip: str | None = None,
                      now: datetime | None = None) -> ConsentInvitation:
    """A new link for a guardian (e.g. the old one expired). Older links stop working."""
    now = now or utcnow()
    if invitation.request.status not in OPEN_STATUSES or invitation.responded_at is not None:
        raise ConsentError("This guardian has nothing left to sign on this request.")
    invitation.link_nonce = secrets.token_hex(8)
    invitation.sent_at = now
    invitation.link_expires_at = now + LINK_LIFETIME
    record("consent.invitation_resent", actor=actor, target=invitation.request,
           student_id=invitation.request.student_id, ip=ip, now=now)
    db.session.commit()
    return invitation
