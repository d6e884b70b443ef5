"""Staff accounts managed by administrators: invitations, roles, the schools a therapist serves.

An invited person gets an account without a password and an email with a signed link. The link
carries the account id and a fingerprint of its (unset) password, exactly like a password-reset
link: once the password is set the fingerprint changes, so the link works once. It also expires
(STAFF_INVITE_MAX_AGE, default 7 days) and is bound to this purpose by its salt.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app.audit.services import record
from app.auth.models import STAFF_ROLES, User
from app.auth.services import AccountError, _password_fingerprint, _revoke_all, normalise_email, set_password
from app.db_types import utcnow
from app.districts.models import School
from app.districts.services import AdminError
from app.extensions import db

INVITE_SALT = "homeroom.staff-invite"
ROLE_LABELS = {"district_admin": "District administrator", "school_admin": "School administrator",
               "therapist": "Therapist"}


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=INVITE_SALT)


def make_invite_token(user: User, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"u": user.id, "p": _password_fingerprint(user)})


def user_for_invite_token(token: str, secret_key: str, max_age: timedelta) -> User | None:
    """The invited account, if the link is genuine, fresh, unused and the account still active."""
    try:
        data = _serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if (user is None or not user.active or user.role not in STAFF_ROLES or user.password_hash is not None
            or data.get("p") != _password_fingerprint(user)):
        return None
    return user


def _allowed_schools(actor: User, school_ids: list[int]) -> list[School]:
    schools = list(db.session.scalars(select(School).where(School.id.in_(school_ids or [-1]),
                                                            School.district_id == actor.district_id)))
    if actor.role == "school_admin" and any(s.id != actor.school_id for s in schools):
        raise AdminError("You can only choose your own school.")
    if len(schools) != len(set(school_ids)):
        raise AdminError("Choose schools of your district.")
    return schools


def invite_staff(actor: User, *, name: str, email: str, role: str, school_ids: list[int], ip: str | None = None,
                 now: datetime | None = None) -> User:
    """Create an account without a password (the invitation sets it). The caller sends the email.

    District admins invite any staff role; school admins invite therapists for their own school.
    A school admin needs one school; a therapist at least one.
    """
    now = now or utcnow()
    name, email = (name or "").strip(), normalise_email(email)
    if not name or len(name) > 200:
        raise AdminError("Enter the person's name.")
    if "@" not in email or len(email) > 254:
        raise AdminError("Enter a valid email address.")
    if role not in STAFF_ROLES or (actor.role == "school_admin" and role != "therapist"):
        raise AdminError("Choose a role you may give.")
    if actor.role == "school_admin" and not school_ids:
        school_ids = [actor.school_id]
    schools = _allowed_schools(actor, school_ids)
    if role == "therapist" and not schools:
        raise AdminError("Choose at least one school this therapist serves.")
    if role == "school_admin" and len(schools) != 1:
        raise AdminError("Choose the one school this administrator runs.")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AdminError("Someone already has an account with this email address.")
    user = User(email=email, name=name, role=role, district_id=actor.district_id, password_hash=None, active=True,
                school_id=schools[0].id if role == "school_admin" else None, created_at=now)
    if role == "therapist":
        user.schools = schools
    db.session.add(user)
    db.session.flush()
    record("staff.invited", actor=actor, target=user, ip=ip, now=now, role=role,
           school_ids=",".join(str(s.id) for s in schools))
    db.session.commit()
    return user


def accept_invite(user: User, password: str, *, ip: str | None = None, now: datetime | None = None) -> None:
    """Set the first password; the link stops working because the fingerprint changes."""
    now = now or utcnow()
    try:
        set_password(user, password)
    except AccountError as exc:
        raise AdminError(str(exc)) from None
    record("staff.invitation_accepted", actor=user, target=user, ip=ip, now=now)
    db.session.commit()


def record_invite_resent(actor: User, user: User, *, ip: str | None = None, now: datetime | None = None) -> None:
    if user.password_hash is not None:
        raise AdminError(f"{user.name} has already set a password.")
    record("staff.invitation_resent", actor=actor, target=user, ip=ip, now=now)
    db.session.commit()


def change_role(actor: User, user: User, role: str, *, school_id: int | None = None, ip: str | None = None,
                now: datetime | None = None) -> bool:
    """Give a staff member another role. Their sessions end: what they may see has changed."""
    now = now or utcnow()
    if role not in STAFF_ROLES:
        raise AdminError("Choose a staff role.")
    if user.id == actor.id:
        raise AdminError("You cannot change your own role.")
    school = None
    if role == "school_admin":
        school = db.session.scalar(select(School).where(School.id == (school_id or -1),
                                                        School.district_id == actor.district_id))
        if school is None:
            raise AdminError("Choose the school this administrator runs.")
    if user.role == role and (role != "school_admin" or user.school_id == school.id):
        return False
    before = user.role
    user.role = role
    user.school_id = school.id if school else None
    if role != "therapist":
        user.schools = []
    ids = _revoke_all(user, "role_changed", now)
    record("staff.role_changed", actor=actor, target=user, ip=ip, now=now, before=before, after=role,
           school_id=user.school_id)
    db.session.commit()
    from app.auth.services import sessions_revoked

    sessions_revoked.send(user, session_ids=ids, reason="role_changed")
    return True


def set_therapist_schools(actor: User, therapist: User, school_ids: list[int], *, ip: str | None = None,
                          now: datetime | None = None) -> None:
    """The schools a therapist serves. A school admin only adds or removes their own school."""
    if therapist.role != "therapist":
        raise AdminError("Only therapists serve schools.")
    if actor.role == "school_admin":
        keep = [s for s in therapist.schools if s.id != actor.school_id]
        chosen = keep + (_allowed_schools(actor, [actor.school_id]) if actor.school_id in school_ids else [])
    else:
        chosen = _allowed_schools(actor, school_ids)
    if not chosen:
        raise AdminError("A therapist serves at least one school; deactivate the account instead.")
    before = sorted(s.id for s in therapist.schools)
    therapist.schools = sorted(chosen, key=lambda s: s.name)
    after = sorted(s.id for s in chosen)
    if before != after:
        record("staff.schools_changed", actor=actor, target=therapist, ip=ip, now=now,
               before=",".join(map(str, before)), after=",".join(map(str, after)))
    db.session.commit()
