"""Every access rule in Homeroom.

Rules are plain functions `can_*(actor, obj, now) -> bool` (or `is_*(actor)` for rules about the
actor alone). Views use `@requires(rule)` and `authorize(...)`, socket handlers use `socket_guard`,
and templates call the same functions through the `can` object in the Jinja context, so the three
cannot disagree. Deny by default: an actor of an unknown kind passes no rule.

An *actor* is a signed-in `User`, Flask-Login's anonymous user, or (for live sessions) a
one-room student grant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import exists, select

from app.db_types import utcnow
from app.extensions import db

# --- who is acting -------------------------------------------------------------------------


def _role(actor: Any) -> str | None:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    if not getattr(actor, "active", False):
        return None
    return getattr(actor, "role", None)


def is_signed_in(actor) -> bool:
    return _role(actor) is not None


def is_staff(actor) -> bool:
    return _role(actor) in ("district_admin", "school_admin", "therapist")


def is_admin(actor) -> bool:
    return _role(actor) in ("district_admin", "school_admin")


def is_district_admin(actor) -> bool:
    return _role(actor) == "district_admin"


def is_therapist(actor) -> bool:
    return _role(actor) == "therapist"


def is_guardian(actor) -> bool:
    return _role(actor) == "guardian"


def _same_district(actor, obj) -> bool:
    return obj is not None and getattr(actor, "district_id", None) == getattr(obj, "district_id", object())


def _today(now: datetime | None) -> date:
    return (now or utcnow()).date()


# --- relationships the rules depend on ------------------------------------------------------


def caseload_open_clause(therapist_id: int, student_id: int, today: date):
    """SQL: this therapist has this student on their caseload on `today` (the rule below, and the
    one-statement change check of a live room's sockets, app/sessions/access.py, share it)."""
    from app.districts.models import CaseloadAssignment

    return exists().where(
        CaseloadAssignment.therapist_id == therapist_id,
        CaseloadAssignment.student_id == student_id,
        CaseloadAssignment.starts_on <= today,
        (CaseloadAssignment.ends_on.is_(None)) | (CaseloadAssignment.ends_on >= today),
    )


def is_on_caseload(therapist, student, now: datetime | None = None) -> bool:
    """True when `student` is on `therapist`'s caseload on the date of `now`."""
    if therapist is None or student is None:
        return False
    return bool(db.session.scalar(select(caseload_open_clause(therapist.id, student.id, _today(now)))))


def guardian_link(guardian, student):
    """The GuardianLink between these two, or None."""
    from app.districts.models import GuardianLink

    if guardian is None or student is None:
        return None
    return db.session.scalar(
        select(GuardianLink).where(
            GuardianLink.guardian_id == guardian.id, GuardianLink.student_id == student.id
        )
    )


def therapist_serves_school(therapist, school_id: int) -> bool:
    return any(s.id == school_id for s in therapist.schools)


def _administers_school(actor, school_id: int) -> bool:
    """District admins administer every school of their district, a school admin their own.
    Callers check the district first."""
    role = _role(actor)
    return role == "district_admin" or (role == "school_admin" and actor.school_id == school_id)


# --- schools, staff, students ---------------------------------------------------------------


def can_view_school(actor, school, now: datetime | None = None) -> bool:
    if not _same_district(actor, school):
        return False
    if _administers_school(actor, school.id):
        return True
    return is_therapist(actor) and therapist_serves_school(actor, school.id)


def can_view_staff_directory(actor) -> bool:
    return is_admin(actor)


def can_view_student(actor, student, now: datetime | None = None) -> bool:
    """Minimum necessary: admins of the student's school or district, the therapists who
    have the student on their caseload today, and guardians with an unrestricted link."""
    if not _same_district(actor, student):
        return False
    if _administers_school(actor, student.school_id):
        return True
    role = _role(actor)
    if role == "therapist":
        return is_on_caseload(actor, student, now)
    if role == "guardian":
        link = guardian_link(actor, student)
        return link is not None and not link.restricted
    return False


def can_list_students(actor) -> bool:
    return is_admin(actor)


def can_view_audit_log(actor) -> bool:
    return is_district_admin(actor)


def can_manage_own_mfa(actor) -> bool:
    return is_staff(actor)


def can_use_dev_outbox(app_config) -> bool:
    return bool(app_config.get("DEV_OUTBOX_PAGE"))


# --- view helpers ---------------------------------------------------------------------------

PUBLIC = "public"


def requires(rule: Callable[[Any], bool]):
    """Decorate a view: anonymous users go to the login page, others failing `rule` get 403.

    The rule's name is kept on the view so the permission-matrix test can prove that every
    route declares one.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not is_signed_in(current_user):
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not rule(current_user):
                abort(403)
            return view(*args, **kwargs)

        wrapper.permission_rule = rule.__name__  # type: ignore[attr-defined]
        return wrapper

    return decorator


def public(view):
    """Mark a view as reachable without signing in (login, password reset, join pages)."""
    view.permission_rule = PUBLIC
    return view


def authorize(allowed: bool, *, not_found: bool = False) -> None:
    """Abort unless `allowed`. Use not_found=True where a 403 would confirm the object exists."""
    if not allowed:
        abort(404 if not_found else 403)


class TemplateRules:
    """`can.view_student(student)` in Jinja: the same rules, bound to the current user."""

    def __getattr__(self, name: str):
        rule = globals().get(f"can_{name}") or globals().get(f"is_{name}")
        if rule is None:
            raise AttributeError(name)
        return lambda *args, **kwargs: rule(current_user, *args, **kwargs)


def can_deactivate_user(actor, user, now: datetime | None = None) -> bool:
    """District admins manage all staff of their district; school admins the therapists
    serving their school. Nobody deactivates themselves or a district admin from below."""
    if not _same_district(actor, user) or user.id == actor.id or user.role == "guardian":
        return False
    role = _role(actor)
    if role == "district_admin":
        return True
    if role == "school_admin":
        return user.role == "therapist" and therapist_serves_school(user, actor.school_id)
    return False


# --- district administration ------------------------------------------------------------------


def can_import_roster(actor) -> bool:
    """Roster imports touch the whole district: district admins only."""
    return is_district_admin(actor)


def can_manage_caseloads(actor) -> bool:
    return is_admin(actor)


def can_assign_student(actor, student, now: datetime | None = None) -> bool:
    """District admins for any student of the district; school admins for their school's."""
    return _same_district(actor, student) and _administers_school(actor, student.school_id)


# --- consent ----------------------------------------------------------------------------------


def can_request_consent(actor, student, now: datetime | None = None) -> bool:
    """Therapists for students on their caseload; school admins for their school; district admins."""
    if not _same_district(actor, student):
        return False
    return _administers_school(actor, student.school_id) or (is_therapist(actor) and is_on_caseload(actor, student, now))


def can_view_consent(actor, student, now: datetime | None = None) -> bool:
    """Whoever may see the student's record may see its consent status."""
    return can_view_student(actor, student, now)


def _legal_guardian_link(actor, student):
    if _role(actor) != "guardian" or not _same_district(actor, student):
        return None
    link = guardian_link(actor, student)
    return link if link is not None and link.legal_authority and not link.restricted else None


def can_sign_consent(actor, request, now: datetime | None = None) -> bool:
    """A legal, unrestricted guardian who was invited to this request."""
    if _legal_guardian_link(actor, request.student) is None:
        return False
    return any(i.guardian_id == actor.id for i in request.invitations)


def can_revoke_consent(actor, request, now: datetime | None = None) -> bool:
    """Any legal, unrestricted guardian of the student may withdraw consent at any time."""
    return _legal_guardian_link(actor, request.student) is not None


def can_download_consent_copy(actor, request, now: datetime | None = None) -> bool:
    """The student's legal guardians, the therapists on the caseload and the district admin."""
    student = request.student
    if not _same_district(actor, student):
        return False
    role = _role(actor)
    if role == "district_admin":
        return True
    if role == "therapist":
        return is_on_caseload(actor, student, now)
    if role == "guardian":
        return _legal_guardian_link(actor, student) is not None
    return False


def can_manage_consent_forms(actor) -> bool:
    return is_district_admin(actor)


def can_view_consent_overview(actor) -> bool:
    return is_staff(actor)


# --- scheduling -------------------------------------------------------------------------------


def can_manage_school_calendar(actor, school, now: datetime | None = None) -> bool:
    """Bell schedules and school days: the school's admin and the district admins."""
    return _same_district(actor, school) and _administers_school(actor, school.id)


def can_view_school_calendar(actor, school, now: datetime | None = None) -> bool:
    """Everyone who works at the school reads its bell schedules (therapists book by period)."""
    return can_view_school(actor, school, now)


def can_view_school_sessions(actor, school, now: datetime | None = None) -> bool:
    """All sessions at a school: its admin and the district admins (therapists see their own)."""
    return can_manage_school_calendar(actor, school, now)


def can_book_session(actor, student, now: datetime | None = None) -> bool:
    """Therapists book for active students on their caseload today, at a school they serve."""
    if not is_therapist(actor) or not _same_district(actor, student) or not student.active:
        return False
    return therapist_serves_school(actor, student.school_id) and is_on_caseload(actor, student, now)


def can_view_appointment(actor, appointment, now: datetime | None = None) -> bool:
    """A session's own therapist, its school's admin and the district admins."""
    if not _same_district(actor, appointment):
        return False
    if is_therapist(actor):
        return appointment.therapist_id == actor.id
    return _administers_school(actor, appointment.school_id)


def can_change_appointment(actor, appointment, now: datetime | None = None) -> bool:
    """Moving a session and recording its attendance: its own therapist only."""
    return is_therapist(actor) and _same_district(actor, appointment) and appointment.therapist_id == actor.id


def can_cancel_appointment(actor, appointment, now: datetime | None = None) -> bool:
    """Its therapist, and the school's admins (a closure, an assembly)."""
    return can_view_appointment(actor, appointment, now)


def can_manage_teacher_contacts(actor, student, now: datetime | None = None) -> bool:
    """Which teacher hears of a pull-out: the student's therapists and the school's admins."""
    if not _same_district(actor, student):
        return False
    return _administers_school(actor, student.school_id) or (is_therapist(actor) and is_on_caseload(actor, student, now))


def can_view_child_sessions(actor, student, now: datetime | None = None) -> bool:
    """A guardian sees their child's upcoming sessions, unless their link is restricted."""
    if _role(actor) != "guardian" or not _same_district(actor, student):
        return False
    link = guardian_link(actor, student)
    return link is not None and not link.restricted


# --- people and dashboards (district administration) ---------------------------------------------


def can_create_school(actor) -> bool:
    """New schools change the district's shape: district admins only."""
    return is_district_admin(actor)


def can_edit_school(actor, school, now: datetime | None = None) -> bool:
    """Rename a school or set its time zone: the district admins and that school's admin."""
    return can_manage_school_calendar(actor, school, now)


def can_invite_staff(actor) -> bool:
    """District admins invite any staff; school admins invite therapists for their own school."""
    return is_admin(actor)


def can_change_role(actor, user, now: datetime | None = None) -> bool:
    """Roles decide what a person may see: only district admins change them, never their own."""
    return (is_district_admin(actor) and _same_district(actor, user) and user.id != actor.id
            and user.role != "guardian")


def can_edit_staff(actor, user, now: datetime | None = None) -> bool:
    """Which schools a therapist serves, resending an invitation: as for deactivation."""
    return can_deactivate_user(actor, user, now)


def can_edit_student(actor, student, now: datetime | None = None) -> bool:
    """Names, grade, school, language and the active flag: as for caseload assignment."""
    return can_assign_student(actor, student, now)


def can_manage_guardian_links(actor, student, now: datetime | None = None) -> bool:
    """Who is a student's guardian, with what authority: the admins of the student's school or district."""
    return can_assign_student(actor, student, now)


def can_view_dashboards(actor) -> bool:
    return is_admin(actor)


def can_view_district_dashboard(actor) -> bool:
    return is_district_admin(actor)


def can_view_school_dashboard(actor, school, now: datetime | None = None) -> bool:
    return can_manage_school_calendar(actor, school, now)


# --- session notes ---------------------------------------------------------------------------


def can_view_session_note(actor, appointment, now: datetime | None = None) -> bool:
    """A session's DAP note is for the therapists who have its student on their caseload today.
    Never admins or guardians: it is a clinical record, and minimum necessary applies."""
    if not is_therapist(actor) or not _same_district(actor, appointment):
        return False
    return is_on_caseload(actor, appointment.student, now)


def can_write_session_note(actor, appointment, now: datetime | None = None) -> bool:
    """The same therapists, once the session has started (no notes on sessions yet to happen)."""
    return can_view_session_note(actor, appointment, now) and appointment.starts_at <= (now or utcnow())


# --- live sessions ----------------------------------------------------------------------------

#: The room opens this long before the appointment starts (and closes at its end).
ROOM_OPENS_BEFORE_MINUTES = 10


def is_student_grant(actor) -> bool:
    return getattr(actor, "role", None) == "student_grant" and not getattr(actor, "is_authenticated", False)


def room_is_open(room, now: datetime | None = None) -> bool:
    """A room takes people from 10 minutes before the session until its end, unless it ended."""
    now = now or utcnow()
    return room is not None and room.status != "ended" and room.opens_at <= now < room.closes_at


def _grant_is_valid(actor, room) -> bool:
    return (is_student_grant(actor) and actor.active and actor.room_id == room.id
            and actor.district_id == room.district_id and actor.student_id == room.student_id)


def room_role(actor, room, now: datetime | None = None) -> str | None:
    """"therapist" for the room's own active therapist; "student" for an unrevoked, admitted
    grant of this room; None for everyone else (including a grant still in the waiting room)."""
    if room is None:
        return None
    if (is_therapist(actor) and _same_district(actor, room) and actor.id == room.therapist_id
            and room.student.active and is_on_caseload(actor, room.student, now)):
        return "therapist"  # a therapist taken off the caseload loses the room with the record
    if _grant_is_valid(actor, room) and actor.admitted_at is not None:
        return "student"
    return None


def is_waiting_student(actor, room, now: datetime | None = None) -> bool:
    """An unrevoked grant of this room that the therapist has not admitted yet."""
    return _grant_is_valid(actor, room) and actor.admitted_at is None


def video_consent_active(room, now: datetime | None = None) -> bool:
    from app.consent.services import consent_is_active

    return consent_is_active(room.student_id, "video_sessions", now or utcnow())


def can_join_call(actor, room, now: datetime | None = None) -> bool:
    """The call needs an open room, one of its two participants, and video consent now."""
    now = now or utcnow()
    return room_is_open(room, now) and room_role(actor, room, now) is not None and video_consent_active(room, now)


def can_wait_for_call(actor, room, now: datetime | None = None) -> bool:
    """The waiting room: an unrevoked grant of this open room, with video consent now."""
    now = now or utcnow()
    return room_is_open(room, now) and _grant_is_valid(actor, room) and video_consent_active(room, now)


def can_manage_room(actor, room, now: datetime | None = None) -> bool:
    """Admitting, sharing the join link and ending: the room's own therapist, while it is open."""
    now = now or utcnow()
    return room_role(actor, room, now) == "therapist" and room_is_open(room, now)


def room_window(appointment) -> tuple[datetime, datetime]:
    from datetime import timedelta

    return appointment.starts_at - timedelta(minutes=ROOM_OPENS_BEFORE_MINUTES), appointment.ends_at


def can_open_room(actor, appointment, now: datetime | None = None) -> bool:
    """The appointment's own therapist opens its room: a scheduled telehealth session, inside
    its window (10 minutes before the start until the end). Consent is checked by the service,
    which says so in plain words."""
    now = now or utcnow()
    if not is_therapist(actor) or not _same_district(actor, appointment) or appointment.therapist_id != actor.id:
        return False
    if appointment.modality != "telehealth" or appointment.status not in ("scheduled", "needs_consent"):
        return False
    if not appointment.student.active or not is_on_caseload(actor, appointment.student, now):
        return False
    opens_at, closes_at = room_window(appointment)
    return opens_at <= now < closes_at


# --- games ------------------------------------------------------------------------------------


def can_play_games(actor, room, now: datetime | None = None) -> bool:
    """Games beside a call: whoever may join the call, once the student is admitted (the room is
    "live"), while a guardian's `games` consent is active."""
    now = now or utcnow()
    if room is None or getattr(room, "status", None) != "live":
        return False
    return can_join_call(actor, room, now) and games_consent_active(room, now)


def games_consent_active(room, now: datetime | None = None) -> bool:
    from app.consent.services import consent_is_active

    return consent_is_active(room.student_id, "games", now or utcnow())


def can_control_games(actor, room, now: datetime | None = None) -> bool:
    """Choosing, starting, resetting, pausing and ending activities, and locking the student's
    input: the room's therapist only."""
    now = now or utcnow()
    return can_play_games(actor, room, now) and controls_games(room_role(actor, room, now))


def controls_games(role: str | None) -> bool:
    """Whether this room role controls the games (the second half of can_control_games), for a
    socket whose namespace has just checked can_play_games for the same event and room role."""
    return role == "therapist"


def can_view_mood_trend(actor, student, now: datetime | None = None) -> bool:
    """A student's mood check-ins are clinical: the therapists with the student on their caseload."""
    return is_therapist(actor) and _same_district(actor, student) and is_on_caseload(actor, student, now)
