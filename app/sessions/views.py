"""Live-session pages: the therapist opens a room; a student joins by code or link (no account),
says whether they are ready, waits, and meets the therapist in the room page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from limits import parse

from app import permissions
from app.auth.forms import ConfirmForm
from app.db_types import utcnow
from app.districts.models import Student
from app.extensions import db, limiter
from app.permissions import authorize, public, requires
from app.scheduling.models import Appointment
from app.sessions import services
from app.sessions.access import current_room_actor, grant_in_session, remember_grant
from app.sessions.forms import AssentForm, JoinCodeForm
from app.sessions.models import LiveRoom, StudentGrant
from app.tenancy import get_in_district
from app.web import external_url

bp = Blueprint("sessions", __name__)

ENDED_MESSAGES = {
    "therapist_ended": "The session has ended. Thank you for coming today!",
    "consent_revoked": "The session has ended because a guardian changed their permission for video sessions.",
    "no_consent": "The session has ended because a guardian's permission (consent) for video sessions is not "
                  "active now.",
    "deactivated": "The session has ended because the counselor's account was closed.",
    "closed": "The session time is over, so this room is closed.",
}
NO_CONSENT_MESSAGE = ("This video session cannot happen right now, because a guardian's permission (consent) for "
                      "video sessions is not active. The counselor can ask the guardian, or meet in person.")


def _join_failed(_response) -> bool:
    return bool(g.get("join_failed"))


def _join_limit_ip() -> str:
    return current_app.config["JOIN_LIMIT_PER_IP"]


def _room_limit_ok(room: LiveRoom) -> bool:
    """Per room: at most JOIN_LIMIT_PER_ROOM redemptions (a leaked code cannot be farmed)."""
    return limiter.limiter.hit(parse(current_app.config["JOIN_LIMIT_PER_ROOM"]), "join-room", str(room.id))


def _room_or_404(room_id: int) -> tuple[LiveRoom, object, str | None]:
    """The room and who is asking. Anyone who is neither its therapist nor holds a grant for it
    gets a 404, as for a room that does not exist."""
    room = db.session.get(LiveRoom, room_id)
    actor, role = current_room_actor(room, utcnow())
    if room is None or actor is None or getattr(actor, "district_id", None) != room.district_id:
        abort(404)
    if role is None and not permissions.is_student_grant(actor):
        abort(404)
    return room, actor, role


def _student_age(student: Student) -> int | None:
    if student.date_of_birth is None:
        return None
    today = utcnow().date()
    dob = student.date_of_birth
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _unavailable(room: LiveRoom, *, status: int = 200):
    now = utcnow()
    services.close_if_past(room, now)
    if room.is_ended:
        message = ENDED_MESSAGES.get(room.ended_reason or "closed", ENDED_MESSAGES["closed"])
        return render_template("sessions/unavailable.html", title="This session has ended", message=message,
                               room=room), status
    if now < room.opens_at:
        return render_template("sessions/unavailable.html", title="This session is not open yet",
                               message="The room opens 10 minutes before the session starts.", room=room), status
    return render_template("sessions/unavailable.html", title="Video sessions are paused",
                           message=NO_CONSENT_MESSAGE, room=room), 403


# --- the therapist ---------------------------------------------------------------------------------


@bp.route("/sessions/appointments/<int:appointment_id>/open", methods=["POST"])
@requires(permissions.is_therapist)
def open_room(appointment_id: int):
    appointment = get_in_district(Appointment, appointment_id, current_user.district_id)
    authorize(permissions.can_view_appointment(current_user, appointment), not_found=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        room = services.open_room(current_user, appointment, now=utcnow())
    except services.SessionError as error:
        flash(str(error), "error")
        return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))
    return redirect(url_for("sessions.room", room_id=room.id))


def _therapist_room(room_id: int) -> LiveRoom:
    room = get_in_district(LiveRoom, room_id, current_user.district_id)
    authorize(permissions.room_role(current_user, room, utcnow()) == "therapist", not_found=True)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return room


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/sessions/rooms/<int:room_id>/link", methods=["POST"])
@requires(permissions.is_therapist)
def new_link(room_id: int):
    room = _therapist_room(room_id)
    try:
        token = services.issue_join_link(current_user, room, now=utcnow())
    except services.SessionError as error:
        if _wants_json():
            return jsonify({"ok": False, "message": str(error)}), 409
        flash(str(error), "error")
        return redirect(url_for("sessions.room", room_id=room.id))
    url = external_url("sessions.join_link", token=token)
    if _wants_json():
        return jsonify({"ok": True, "url": url})
    return render_template("sessions/link.html", room=room, url=url)


@bp.route("/sessions/rooms/<int:room_id>/email-link", methods=["POST"])
@requires(permissions.is_therapist)
def email_link(room_id: int):
    room = _therapist_room(room_id)
    try:
        sent = services.email_join_link(current_user, room, lambda token: external_url("sessions.join_link", token=token),
                                        now=utcnow())
    except services.SessionError as error:
        message, ok = str(error), False
    else:
        message = f"Sent a new join link to {sent} guardian{'s' if sent != 1 else ''}. Earlier links no longer work."
        ok = True
    if _wants_json():
        return jsonify({"ok": ok, "message": message}), 200 if ok else 409
    flash(message, "success" if ok else "error")
    return redirect(url_for("sessions.room", room_id=room.id))


@bp.route("/sessions/rooms/<int:room_id>/end", methods=["POST"])
@requires(permissions.is_therapist)
def end(room_id: int):
    room = _therapist_room(room_id)
    services.end_room(room, "therapist_ended", utcnow(), actor=current_user)
    return redirect(url_for("sessions.room", room_id=room.id))


# --- the room (both people) ------------------------------------------------------------------------


@bp.route("/sessions/rooms/<int:room_id>")
@public
def room(room_id: int):
    room, actor, role = _room_or_404(room_id)
    now = utcnow()
    if role is None:  # a student grant still waiting, or one that ended
        if room.is_ended or not actor.active:
            return _unavailable(room)
        return redirect(url_for("sessions.waiting", room_id=room.id))
    if not permissions.can_join_call(actor, room, now):
        return _unavailable(room)
    return render_template("sessions/room.html", room=room, room_role=role, now=now,
                           waiting=services.waiting_grants(room) if role == "therapist" else [],
                           form=ConfirmForm(), student_age=_student_age(room.student))


# --- the student -----------------------------------------------------------------------------------


def _grant_or_404(room_id: int) -> tuple[LiveRoom, StudentGrant]:
    room = db.session.get(LiveRoom, room_id)
    grant = grant_in_session(room) if room is not None else None
    if room is None or grant is None:
        abort(404)
    return room, grant


@bp.route("/sessions/rooms/<int:room_id>/ready", methods=["GET", "POST"])
@public
def assent(room_id: int):
    room, grant = _grant_or_404(room_id)
    now = utcnow()
    if not grant.active or not permissions.can_wait_for_call(grant, room, now):
        return _unavailable(room)
    form = AssentForm()
    if form.validate_on_submit():
        choice = form.choice.data
        if choice in ("yes", "not_now"):
            services.record_assent(grant, choice, now=now)
            if choice == "yes":
                return redirect(url_for("sessions.waiting", room_id=room.id))
            return redirect(url_for("sessions.assent", room_id=room.id))
    return render_template("sessions/assent.html", room=room, grant=grant, form=form,
                           age=_student_age(room.student))


@bp.route("/sessions/rooms/<int:room_id>/waiting")
@public
def waiting(room_id: int):
    room, grant = _grant_or_404(room_id)
    now = utcnow()
    if not grant.active or not permissions.can_wait_for_call(grant, room, now):
        return _unavailable(room)
    if grant.assent != "yes":
        return redirect(url_for("sessions.assent", room_id=room.id))
    if grant.admitted_at is not None:
        return redirect(url_for("sessions.room", room_id=room.id))
    return render_template("sessions/waiting.html", room=room, grant=grant)


def _after_grant(grant: StudentGrant):
    remember_grant(grant)
    if grant.assent == "yes":
        return redirect(url_for("sessions.waiting", room_id=grant.room_id))
    return redirect(url_for("sessions.assent", room_id=grant.room_id))


@bp.route("/join", methods=["GET", "POST"])
@limiter.limit(_join_limit_ip, methods=["POST"], deduct_when=_join_failed, scope="join-ip")
@public
def join():
    form = JoinCodeForm()
    error = None
    if form.validate_on_submit():
        now = utcnow()
        room = services.find_room_by_code(form.code.data, now)
        held = grant_in_session(room) if room is not None else None
        if held is not None and held.active:
            return _after_grant(held)
        if room is not None and not _room_limit_ok(room):
            abort(429)
        try:
            grant = services.redeem_code(form.code.data, now=now)
        except services.JoinError as refused:
            g.join_failed = refused.code == "unknown"
            error = str(refused)
        else:
            return _after_grant(grant)
    elif request.method == "POST":
        g.join_failed = True
    return render_template("sessions/join.html", form=form, error=error)


@bp.route("/join/<token>", methods=["GET", "POST"])
@limiter.limit(_join_limit_ip, methods=["POST"], deduct_when=_join_failed, scope="join-ip")
@public
def join_link(token: str):
    form = ConfirmForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        now = utcnow()
        room = services.find_room_by_token(token)
        held = grant_in_session(room) if room is not None else None
        if held is not None and held.active:
            return _after_grant(held)
        if room is not None and not _room_limit_ok(room):
            abort(429)
        try:
            grant = services.redeem_token(token, now=now)
        except services.JoinError as refused:
            g.join_failed = refused.code == "unknown"
            error = str(refused)
        else:
            return _after_grant(grant)
    return render_template("sessions/join_link.html", form=form, error=error)
