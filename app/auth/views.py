from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import segno
from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from app import permissions
from app.auth import bp, services
from app.auth.forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    NewPasswordForm,
    PasswordResetRequestForm,
    TotpForm,
)
from app.auth.models import User, UserSession
from app.db_types import utcnow
from app.extensions import db, limiter
from app.notifications.services import send_email
from app.permissions import public, requires
from app.web import client_ip, external_url

MFA_PENDING_TTL = timedelta(minutes=5)
GENERIC_LOGIN_ERROR = "That email and password do not match an active account."


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths may be a post-login destination."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 for ch in target):
        return None
    return target


def _failed(_response) -> bool:
    return bool(g.get("auth_failed"))


def _account_key() -> str:
    return "account:" + services.normalise_email(request.form.get("email", ""))


def _pending_mfa_key() -> str:
    pending = session.get("mfa_pending") or {}
    return f"mfa:{pending.get('uid')}"


def _login_limit_ip() -> str:
    return current_app.config["LOGIN_LIMIT_PER_IP"]


def _login_limit_account() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _complete_login(user: User):
    """Password (and second factor, where needed) checked: open a server-side session."""
    next_url = safe_next(session.get("login_next"))
    session.clear()  # no session fixation: nothing from before sign-in survives
    services.start_session(user, ip=client_ip(), user_agent=request.user_agent.string)
    login_user(user)
    session.permanent = True
    return redirect(next_url or url_for("core.home"))


def _pending_user() -> User | None:
    pending = session.get("mfa_pending")
    if not isinstance(pending, dict):
        return None
    started = pending.get("at", 0)
    if utcnow().timestamp() - started > MFA_PENDING_TTL.total_seconds():
        session.pop("mfa_pending", None)
        return None
    user = db.session.get(User, pending.get("uid"))
    return user if user is not None and user.active else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit_ip, methods=["POST"], deduct_when=_failed, scope="login-ip")
@limiter.limit(_login_limit_account, key_func=_account_key, methods=["POST"], deduct_when=_failed,
               scope="login-account")
@public
def login():
    if permissions.is_signed_in(current_user):
        return redirect(url_for("core.home"))
    form = LoginForm()
    if request.method == "GET":
        session["login_next"] = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            g.auth_failed = True
            services.record_failed_login(form.email.data, ip=client_ip())
            flash(GENERIC_LOGIN_ERROR, "error")
            return render_template("auth/login.html", form=form), 200
        if user.is_staff and (current_app.config["MFA_REQUIRED"] or user.mfa_enrolled):
            session["mfa_pending"] = {"uid": user.id, "at": utcnow().timestamp()}
            if user.mfa_enrolled:
                return redirect(url_for("auth.verify_totp"))
            return redirect(url_for("auth.mfa_setup"))
        return _complete_login(user)
    return render_template("auth/login.html", form=form)


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(_login_limit_account, key_func=_pending_mfa_key, methods=["POST"], deduct_when=_failed,
               scope="login-totp")
@public
def verify_totp():
    user = _pending_user()
    if user is None or not user.mfa_enrolled:
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    form = TotpForm()
    if form.validate_on_submit():
        if services.verify_totp(user, form.code.data):
            session.pop("mfa_pending", None)
            return _complete_login(user)
        g.auth_failed = True
        services.record_failed_login(user.email, ip=client_ip())
        flash("That code did not work. Codes change every 30 seconds; try the newest one.", "error")
    return render_template("auth/verify_totp.html", form=form)


def _qr_svg(uri: str) -> Markup:
    # segno writes a self-contained SVG; it is our own output, not user input.
    return Markup(segno.make(uri, error="m").svg_inline(scale=5, dark="#1b1b1b", light="#ffffff"))  # noqa: S704


@bp.route("/login/mfa-setup", methods=["GET", "POST"])
@limiter.limit(_login_limit_account, key_func=_pending_mfa_key, methods=["POST"], deduct_when=_failed,
               scope="login-totp")
@public
def mfa_setup():
    """Staff must enrol a second factor before their first sign-in when MFA is required."""
    user = _pending_user()
    if user is None or user.mfa_enrolled:
        return redirect(url_for("auth.login"))
    secret = session.get("totp_enrolment_secret") or services.new_totp_secret()
    session["totp_enrolment_secret"] = secret
    form = TotpForm()
    if form.validate_on_submit():
        try:
            services.enrol_totp(user, secret, form.code.data, ip=client_ip())
        except services.AccountError as exc:
            g.auth_failed = True
            flash(str(exc), "error")
        else:
            session.pop("mfa_pending", None)
            session.pop("totp_enrolment_secret", None)
            return _complete_login(user)
    uri = services.totp_uri(user, secret)
    return render_template("auth/mfa_setup.html", form=form, qr=_qr_svg(uri), secret=secret, required=True)


@bp.route("/logout", methods=["POST"])
@requires(permissions.is_signed_in)
def logout():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("core.home"))
    services.end_session(current_user, ip=client_ip())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"], scope="password-forgot")
@public
def forgot_password():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        email = services.normalise_email(form.email.data)
        user = db.session.scalar(select(User).where(User.email == email, User.active.is_(True)))
        if user is not None:
            token = services.make_reset_token(user, current_app.config["SECRET_KEY"])
            link = external_url("auth.reset_password", token=token)
            send_email(
                user.email,
                "Reset your Homeroom password",
                render_template("auth/email/reset_password.txt", user=user, link=link),
            )
        # The same answer whether or not the account exists.
        flash("If that email belongs to an account, we have sent a link to reset the password. "
              "It works once, for 30 minutes.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"], scope="password-reset")
@public
def reset_password(token: str):
    user = services.user_for_reset_token(
        token, current_app.config["SECRET_KEY"], current_app.config["PASSWORD_RESET_MAX_AGE"]
    )
    if user is None:
        return render_template("auth/reset_invalid.html"), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(user, form.password.data, ip=client_ip())
        except services.AccountError as exc:
            form.password.errors.append(str(exc))
        else:
            flash("Your password is changed. Please sign in.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)


@bp.route("/account")
@requires(permissions.is_signed_in)
def account():
    sessions = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == current_user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ).all()
    return render_template(
        "auth/account.html",
        sessions=sessions,
        password_form=ChangePasswordForm(),
        confirm_form=ConfirmForm(),
    )


@bp.route("/account/password", methods=["POST"])
@requires(permissions.is_signed_in)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.password.data, ip=client_ip())
        except services.AccountError as exc:
            flash(str(exc), "error")
        else:
            flash("Your password is changed. Your other devices are signed out.", "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
    return redirect(url_for("auth.account"))


@bp.route("/account/sessions/revoke-others", methods=["POST"])
@requires(permissions.is_signed_in)
def revoke_other_sessions():
    if ConfirmForm().validate_on_submit():
        now = utcnow()
        others = db.session.scalars(
            select(UserSession).where(
                UserSession.user_id == current_user.id,
                UserSession.revoked_at.is_(None),
                UserSession.id != current_user.current_session.id,
            )
        ).all()
        for row in others:
            row.revoked_at = now
            row.revoked_reason = "signed_out_elsewhere"
        db.session.commit()
        services.sessions_revoked.send(current_user._get_current_object(),
                                       session_ids=[r.id for r in others], reason="signed_out_elsewhere")
        flash(f"Signed out {len(others)} other session(s).", "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/totp", methods=["GET", "POST"])
@requires(permissions.can_manage_own_mfa)
def enrol_totp():
    if current_user.mfa_enrolled:
        return redirect(url_for("auth.account"))
    secret = session.get("totp_enrolment_secret") or services.new_totp_secret()
    session["totp_enrolment_secret"] = secret
    form = TotpForm()
    if form.validate_on_submit():
        try:
            services.enrol_totp(current_user, secret, form.code.data, ip=client_ip())
        except services.AccountError as exc:
            flash(str(exc), "error")
        else:
            session.pop("totp_enrolment_secret", None)
            flash("Two-step sign-in is on. You will be asked for a code each time you sign in.", "success")
            return redirect(url_for("auth.account"))
    uri = services.totp_uri(current_user, secret)
    return render_template("auth/mfa_setup.html", form=form, qr=_qr_svg(uri), secret=secret, required=False)


@bp.route("/account/totp/remove", methods=["POST"])
@requires(permissions.can_manage_own_mfa)
def remove_totp():
    if current_app.config["MFA_REQUIRED"]:
        flash("Your district requires two-step sign-in, so it cannot be turned off.", "error")
    elif ConfirmForm().validate_on_submit():
        services.remove_totp(current_user, ip=client_ip())
        flash("Two-step sign-in is off.", "info")
    return redirect(url_for("auth.account"))
