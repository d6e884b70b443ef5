"""Accounts: passwords, server-side sessions, TOTP and password reset.

Functions take explicit arguments (actor, now, ip) and never read the request, so they are
tested without HTTP. Each public function is one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from blinker import Namespace
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from app.audit.services import record
from app.auth.models import User, UserSession, hash_token
from app.db_types import utcnow
from app.extensions import db

signals = Namespace()
# Sent after a user is deactivated (committed). Live sessions subscribe and close that user's sockets.
user_deactivated = signals.signal("user-deactivated")
# Sent after a UserSession is revoked (logout, deactivation, password reset).
sessions_revoked = signals.signal("sessions-revoked")

_hasher = PasswordHasher()  # Argon2id with RFC 9106 low-memory parameters
# Verifying against this when the email is unknown keeps the answer time the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12
_COMMON_PASSWORDS = {
    "password1234", "123456789012", "qwertyuiopas", "letmein12345", "homeroom1234",
    "iloveyou1234", "welcome12345", "changeme1234", "password12345", "administrator",
}


class AccountError(ValueError):
    """A refused account operation, with a message meant for the person."""


# --- passwords -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problems(password: str, email: str = "") -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > 256:
        problems.append("Use at most 256 characters.")
    if password.lower() in _COMMON_PASSWORDS:
        problems.append("This password is too common; choose another.")
    if email and password.lower() == email.lower():
        problems.append("Your password must not be your email address.")
    return problems


def set_password(user: User, password: str) -> None:
    problems = password_problems(password, user.email)
    if problems:
        raise AccountError(" ".join(problems))
    user.password_hash = hash_password(password)


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Unknown emails take as long."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


# --- server-side sessions --------------------------------------------------------------------


def start_session(user: User, *, ip: str | None, user_agent: str | None, now: datetime | None = None) -> str:
    """Create a UserSession and return its raw token (only its hash is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session_row = UserSession(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        ip=ip,
        user_agent=(user_agent or "")[:300],
    )
    db.session.add(session_row)
    record("auth.login", actor=user, target=user, ip=ip, now=now)
    db.session.commit()
    user.current_session = session_row
    user.current_session_token = token
    return token


def load_session(
    token: str,
    *,
    now: datetime,
    idle_timeout: timedelta,
    absolute_lifetime: timedelta,
    touch_every: timedelta = timedelta(seconds=60),
) -> User | None:
    """The user behind a session token, if the session is open, fresh and the user active.

    An idle or over-age session is revoked on the spot, so it can never come back.
    """
    if not token or len(token) > 100:
        return None
    session_row = db.session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(token)))
    if session_row is None or session_row.revoked_at is not None:
        return None
    user = session_row.user
    expired_reason = None
    if now - session_row.last_seen_at > idle_timeout:
        expired_reason = "idle_timeout"
    elif now - session_row.created_at > absolute_lifetime:
        expired_reason = "absolute_lifetime"
    elif not user.active:
        expired_reason = "deactivated"
    if expired_reason:
        session_row.revoked_at = now
        session_row.revoked_reason = expired_reason
        db.session.commit()
        return None
    if now - session_row.last_seen_at > touch_every:
        session_row.last_seen_at = now
        db.session.commit()
    user.current_session = session_row
    user.current_session_token = token
    return user


def end_session(user: User, *, ip: str | None, now: datetime | None = None) -> None:
    """Log out: the current session row is revoked, so a copied cookie is worthless."""
    now = now or utcnow()
    if user.current_session is not None:
        user.current_session.revoked_at = now
        user.current_session.revoked_reason = "logout"
        record("auth.logout", actor=user, target=user, ip=ip, now=now)
        db.session.commit()
        sessions_revoked.send(user, session_ids=[user.current_session.id], reason="logout")


def _revoke_all(user: User, reason: str, now: datetime) -> list[int]:
    ids = list(
        db.session.scalars(
            select(UserSession.id).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        )
    )
    if ids:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id.in_(ids))
            .values(revoked_at=now, revoked_reason=reason)
        )
    return ids


def deactivate_user(actor: User, user: User, *, ip: str | None, now: datetime | None = None) -> None:
    """Deactivate an account and revoke every session it has, everywhere, at once."""
    now = now or utcnow()
    if user.id == actor.id:
        raise AccountError("You cannot deactivate your own account.")
    if not user.active:
        raise AccountError("This account is already deactivated.")
    user.active = False
    ids = _revoke_all(user, "deactivated", now)
    record("user.deactivated", actor=actor, district_id=user.district_id, target=user, ip=ip, now=now)
    db.session.commit()
    sessions_revoked.send(user, session_ids=ids, reason="deactivated")
    user_deactivated.send(user, actor=actor)


def reactivate_user(actor: User, user: User, *, ip: str | None, now: datetime | None = None) -> None:
    if user.active:
        raise AccountError("This account is already active.")
    user.active = True
    record("user.reactivated", actor=actor, district_id=user.district_id, target=user, ip=ip, now=now)
    db.session.commit()


# --- password reset ---------------------------------------------------------------------------


def _reset_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="homeroom.password-reset")


def _password_fingerprint(user: User) -> str:
    # Part of the token: once the password changes, every earlier token stops working.
    return hashlib.sha256((user.password_hash or "unset").encode()).hexdigest()[:16]


def make_reset_token(user: User, secret_key: str) -> str:
    return _reset_serializer(secret_key).dumps({"u": user.id, "p": _password_fingerprint(user)})


def user_for_reset_token(token: str, secret_key: str, max_age: timedelta) -> User | None:
    """The user a reset token belongs to, if it is genuine, fresh and not yet used."""
    try:
        data = _reset_serializer(secret_key).loads(token, max_age=int(max_age.total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or not user.active or data.get("p") != _password_fingerprint(user):
        return None
    return user


def reset_password(user: User, new_password: str, *, ip: str | None, now: datetime | None = None) -> None:
    """Set a new password and sign the user out everywhere (the old password may be known)."""
    now = now or utcnow()
    set_password(user, new_password)
    ids = _revoke_all(user, "password_reset", now)
    record("auth.password_reset", actor=user, target=user, ip=ip, now=now)
    db.session.commit()
    sessions_revoked.send(user, session_ids=ids, reason="password_reset")


def change_password(user: User, current: str, new_password: str, *, ip: str | None, now: datetime | None = None) -> None:
    """Change the password; every other session of the user is signed out."""
    now = now or utcnow()
    try:
        _hasher.verify(user.password_hash or _DUMMY_HASH, current)
    except (VerificationError, InvalidHashError):
        raise AccountError("Your current password is not correct.") from None
    set_password(user, new_password)
    keep = user.current_session.id if user.current_session else None
    ids = [i for i in _revoke_all(user, "password_changed", now) if i != keep]
    if keep is not None:
        db.session.execute(update(UserSession).where(UserSession.id == keep).values(revoked_at=None, revoked_reason=None))
    record("auth.password_changed", actor=user, target=user, ip=ip, now=now)
    db.session.commit()
    sessions_revoked.send(user, session_ids=ids, reason="password_changed")


# --- TOTP -------------------------------------------------------------------------------------

TOTP_ISSUER = "Homeroom"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step the code belongs to (allowing one step of clock drift), or None."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def enrol_totp(user: User, secret: str, code: str, *, ip: str | None, now: datetime | None = None) -> None:
    now = now or utcnow()
    step = _matching_step(secret, code, now)
    if step is None:
        raise AccountError("That code did not match. Check the time on your phone and try the newest code.")
    user.totp_secret = secret
    user.totp_last_step = step
    record("auth.totp_enrolled", actor=user, target=user, ip=ip, now=now)
    db.session.commit()


def verify_totp(user: User, code: str, *, now: datetime | None = None) -> bool:
    """Check a code; each code works once (a replayed code in the same step is refused)."""
    now = now or utcnow()
    if not user.totp_secret:
        return False
    step = _matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    db.session.commit()
    return True


def remove_totp(user: User, *, ip: str | None, now: datetime | None = None) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    record("auth.totp_removed", actor=user, target=user, ip=ip, now=now)
    db.session.commit()


def record_failed_login(email: str, *, ip: str | None, now: datetime | None = None) -> None:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    record(
        "auth.login_failed",
        actor=None,
        district_id=user.district_id if user else None,
        target=user,
        ip=ip,
        now=now,
    )
    db.session.commit()
