"""The permission matrix: every route x every role x own / same-district / foreign objects.

Every endpoint in app.url_map must appear in ROUTES, so a new route cannot escape review.
Expected answers: 200/302/400 as listed, 403 for a role the rule refuses, 404 for an object the
actor may not know exists (always for another district). Bodies never leak another district's
data, and a guardian or a student never sees another family's child.

Two roles are students holding a join grant (no account): `student` (admitted to world's own
room) and `waiting_student` (a grant of the same room, not let in yet). A student is anonymous
everywhere except the pages of their own room, so each defaults to the anonymous column: a 302 to
the sign-in page (never to anywhere else), a 400/404, or a public page. The socket events are in
tests/integration/security/test_socket_matrix.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.conftest import get_csrf, login

# The students come before the therapist: `sessions.end` as the therapist ends the room (and
# revokes its grants), and `student`'s grant is admitted after `waiting_student` has been checked
# (admitting a grant revokes the room's other grants).
ROLES = ("anonymous", "waiting_student", "student", "guardian", "therapist", "school_admin", "district_admin")
STUDENTS = ("waiting_student", "student")
SIGNED_IN = ("guardian", "therapist", "school_admin", "district_admin")
ADMINS = ("school_admin", "district_admin")
STAFF = ("therapist", "school_admin", "district_admin")


def expect(default: int | tuple, **per_role) -> dict:
    """Expected status per role; anonymous users are sent to the login page unless stated."""
    table = {role: default for role in ROLES}
    table["anonymous"] = 302
    table.update(per_role)
    for student in STUDENTS:  # a student is anonymous outside their own room's pages
        table[student] = per_role.get(student, table["anonymous"])
    return table


def only(roles, ok, refused=403, **extra) -> dict:
    table = expect(refused, **{r: ok for r in roles})
    table.update(extra)
    for student in STUDENTS:
        table[student] = extra.get(student, table["anonymous"])
    return table


@dataclass
class Route:
    method: str
    url: Callable  # (world, variant) -> path
    expected: dict  # role -> status, or role -> tuple of statuses (one per variant)
    variants: tuple = (None,)
    data: dict = field(default_factory=dict)


STUDENT_VARIANTS = ("own_student", "other_student", "school_b_student", "foreign_student")
SCHOOL_VARIANTS = ("school_a", "school_b", "foreign_school")
STAFF_VARIANTS = ("therapist", "other_therapist", "foreign_therapist")


def _id(attr_path: str, fmt: str):
    return lambda w, v: fmt.format(id=getattr(w, v).id)


def _consent(w, variant):
    """An active, signed consent request for the variant's student (created on first use)."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.consent.models import SCOPES
    from app.consent.services import decide, latest_template, publish_template, request_consent
    from app.districts.models import GuardianLink
    from app.extensions import db

    cache = w.__dict__.setdefault("consents", {})
    if variant in cache:
        return cache[variant]
    student = getattr(w, variant)
    admin = w.district_admin if student.district_id == w.district.id else w.foreign_admin
    template = latest_template(student.district_id)
    if template is None or set(SCOPES) - set(template.scopes):  # none yet, or consent.form_version's narrow one
        publish_template(admin, scopes=list(SCOPES), title_en="T", title_es="T", body_en="B", body_es="B")
    if not db.session.scalar(select(GuardianLink).where(GuardianLink.student_id == student.id)):
        parent = User(email=f"parent-{variant}@family.example", name=f"Parent {student.id}", role="guardian",
                      district_id=student.district_id, password_hash="x")
        db.session.add(parent)
        db.session.flush()
        db.session.add(GuardianLink(district_id=student.district_id, guardian_id=parent.id, student_id=student.id,
                                    relationship_label="parent", legal_authority=True))
        db.session.commit()
    created = request_consent(admin, student, scopes=list(SCOPES))
    invitation = created.invitations[0]
    signature = decide(created.request, invitation.guardian, decision="signed", choices=dict.fromkeys(SCOPES, True),
                       typed_name="Parent Name", confirmed_legal_guardian=True, language="en")
    # A second, still-open request, so the "resend invitation" route has something to resend.
    pending = request_consent(admin, student, scopes=["games"])
    cache[variant] = (created.request, signature, pending.invitations[0])
    return cache[variant]


def _roster_upload(w, variant):
    from app.districts import roster

    admin = getattr(w, variant)
    text = "sourcedId,role,givenName,familyName\n"
    return roster.store_upload(admin, "r.csv", text, roster.plan(admin.district_id, text))


def _template(w, variant):
    from app.consent.services import latest_template, publish_template

    admin = w.district_admin if variant == "template_a" else w.foreign_admin
    return latest_template(admin.district_id) or publish_template(
        admin, scopes=["video_sessions"], title_en="T", title_es="T", body_en="B", body_es="B")



# --- scheduling objects ---------------------------------------------------------------------------

APPOINTMENT_VARIANTS = ("own_appointment", "other_school_appointment", "foreign_appointment")


def _scheduling(w) -> dict:
    """A future session per therapist (own, another school's, another district's) and a bell
    schedule per school, made once per test. Forms posted empty change neither."""
    from datetime import timedelta

    from app.db_types import utcnow
    from app.extensions import db
    from app.scheduling.models import Appointment, BellSchedule

    cache = w.__dict__.setdefault("scheduling", {})
    if cache:
        return cache
    start = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    for variant, (therapist, student, school) in {
        "own_appointment": (w.therapist, w.own_student, w.school_a),
        "other_school_appointment": (w.other_therapist, w.school_b_student, w.school_b),
        "foreign_appointment": (w.foreign_therapist, w.foreign_student, w.foreign_school),
    }.items():
        cache[variant] = Appointment(
            district_id=school.district_id, school_id=school.id, therapist_id=therapist.id, student_id=student.id,
            starts_at=start, ends_at=start + timedelta(minutes=30), local_date=start.date(), modality="in_person",
            status="scheduled", created_by_id=therapist.id)
    for variant in SCHOOL_VARIANTS:
        school = getattr(w, variant)
        cache[variant] = BellSchedule(district_id=school.district_id, school_id=school.id, name="Regular day",
                                      is_default=True)
    db.session.add_all(list(cache.values()))
    db.session.commit()
    return cache


_fresh_counter = iter(range(1, 1_000_000))


def _fresh(kind: str):
    """A new object per request, for routes that delete what they are given."""

    def make(w, variant):
        from datetime import date, time, timedelta

        from app.extensions import db
        from app.scheduling import models as m

        n = next(_fresh_counter)
        if kind in ("availability", "time_off"):
            therapist = getattr(w, variant)
            if kind == "availability":
                row = m.Availability(district_id=therapist.district_id, therapist_id=therapist.id,
                                     school_id=therapist.schools[0].id, weekday=0, starts_local=time(8),
                                     ends_local=time(9))
            else:
                from app.db_types import utcnow

                row = m.TimeOff(district_id=therapist.district_id, therapist_id=therapist.id,
                                starts_at=utcnow() + timedelta(days=n), ends_at=utcnow() + timedelta(days=n, hours=1))
        elif kind == "teacher":
            student = getattr(w, variant)
            row = m.TeacherContact(district_id=student.district_id, student_id=student.id, period_name=f"Period {n}",
                                   teacher_email="teacher@alpha.example", created_by_id=w.district_admin.id)
        else:
            schedule = _scheduling(w)[variant]
            if kind == "period":
                row = m.BellPeriod(district_id=schedule.district_id, schedule_id=schedule.id, name=f"Period {n}",
                                   weekday=0, starts_local=time(8), ends_local=time(9))
            elif kind == "bell_schedule":
                row = m.BellSchedule(district_id=schedule.district_id, school_id=schedule.school_id,
                                     name=f"Schedule {n}")
            else:
                row = m.CalendarDay(district_id=schedule.district_id, school_id=schedule.school_id,
                                    day=date(2030, 1, 1) + timedelta(days=n), kind="no_school")
        db.session.add(row)
        db.session.commit()
        return row

    return make


def _feed_token(w, variant) -> str:
    from app.scheduling.feeds import issue_feed

    if variant == "bogus":
        return "not-a-feed-token"
    if "feed_token" not in w.__dict__:
        w.feed_token = issue_feed(w.therapist)
    return w.feed_token


LINK_VARIANTS = ("own_student", "school_b_student", "foreign_student")


def _guardian_link(w, variant):
    """A new guardian linked to the variant's student, per request (some routes remove the link)."""
    from app.auth.models import User
    from app.districts.models import GuardianLink
    from app.extensions import db

    student = getattr(w, variant)
    n = next(_fresh_counter)
    parent = User(email=f"linked-{n}@family.example", name=f"Linked Parent {n}", role="guardian",
                  district_id=student.district_id, password_hash="x")
    db.session.add(parent)
    db.session.flush()
    link = GuardianLink(district_id=student.district_id, guardian_id=parent.id, student_id=student.id,
                        relationship_label="parent", legal_authority=True)
    db.session.add(link)
    db.session.commit()
    return link


# --- live sessions ------------------------------------------------------------------------------

ROOM_VARIANTS = ("own_room", "other_school_room", "foreign_room")


def _rooms(w) -> dict:
    """An open video room per therapist (own, another school's, another district's), each for a
    telehealth session starting now with video consent, made once per test."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from app.db_types import utcnow
    from app.extensions import db
    from app.scheduling.models import Appointment
    from app.sessions.services import open_room

    cache = w.__dict__.setdefault("rooms", {})
    if cache:
        return cache
    start = utcnow().replace(second=0, microsecond=0)
    for variant, (therapist, student_variant) in {
        "own_room": (w.therapist, "own_student"),
        "other_school_room": (w.other_therapist, "school_b_student"),
        "foreign_room": (w.foreign_therapist, "foreign_student"),
    }.items():
        _consent(w, student_variant)
        student = getattr(w, student_variant)
        appointment = Appointment(
            district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
            student_id=student.id, starts_at=start, ends_at=start + timedelta(minutes=30),
            local_date=start.astimezone(ZoneInfo(student.school.timezone)).date(),
            modality="telehealth", status="scheduled", created_by_id=therapist.id)
        db.session.add(appointment)
        db.session.commit()
        cache[variant] = open_room(therapist, appointment, now=utcnow())
    return cache


def _room(w, v) -> int:
    return _rooms(w)[v].id


def _student_grant(w, role: str):
    """The grant `role` holds for world's own room, made on first use: `waiting_student` redeems
    the join code and says it is ready; `student` does the same and is admitted (which revokes the
    room's other grants, so ROLES checks `waiting_student` first)."""
    from app.sessions import services

    grants = w.__dict__.setdefault("grants", {})
    if role not in grants:
        room = _rooms(w)["own_room"]
        grant = services.redeem_code(room.join_code)
        services.record_assent(grant, "yes")
        if role == "student":
            services.admit(room.therapist, room, grant)
        grants[role] = grant
    return grants[role]


ROUTES: dict[str, Route] = {
    # consent
    "consent.new_request": Route(
        "GET", _id("", "/consent/students/{id}/request"),
        only(STAFF, None, district_admin=(200, 200, 200, 404), school_admin=(200, 200, 404, 404),
             therapist=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "consent.request_detail": Route(
        "GET", lambda w, v: f"/consent/requests/{_consent(w, v)[0].id}",
        expect(None, district_admin=(200, 200, 200, 404), school_admin=(200, 200, 404, 404),
               therapist=(200, 404, 404, 404), guardian=(302, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "consent.resend": Route(
        "POST", lambda w, v: f"/consent/invitations/{_consent(w, v)[2].id}/resend",
        only(STAFF, None, district_admin=(302, 302, 302, 404), school_admin=(302, 302, 404, 404),
             therapist=(302, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "consent.caseload": Route("GET", lambda w, v: "/consent/caseload", only(["therapist"], 200)),
    "consent.school_overview": Route(
        "GET", _id("", "/consent/schools/{id}"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)),
        variants=SCHOOL_VARIANTS,
    ),
    "consent.forms": Route("GET", lambda w, v: "/consent/forms", only(["district_admin"], 200)),
    "consent.form_version": Route(
        "GET", lambda w, v: f"/consent/forms/{_template(w, v).id}",
        only(["district_admin"], None, district_admin=(200, 404)),
        variants=("template_a", "template_foreign"),
    ),
    "consent.portal": Route("GET", lambda w, v: "/consent/", only(["guardian"], 200)),
    "consent.invitation": Route("GET", lambda w, v: "/consent/invite/not-a-token", expect(400, anonymous=400)),
    "consent.switch_account": Route("POST", lambda w, v: "/consent/invite/not-a-token/switch", expect(302)),
    "consent.sign": Route(
        "GET", lambda w, v: f"/consent/requests/{_consent(w, v)[0].id}/sign",
        only(["guardian"], None, guardian=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "consent.revoke": Route(
        "POST", lambda w, v: f"/consent/requests/{_consent(w, v)[0].id}/revoke",
        only(["guardian"], None, guardian=(302, 404, 404, 404)),
        variants=STUDENT_VARIANTS, data={"scopes": ["games"]},
    ),
    "consent.signature_pdf": Route(
        "GET", lambda w, v: f"/consent/signatures/{_consent(w, v)[1].id}.pdf",
        expect(None, district_admin=(200, 200, 200, 404), school_admin=(404, 404, 404, 404),
               therapist=(200, 404, 404, 404), guardian=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    # games
    "games.mood_trend": Route(
        "GET", _id("", "/students/{id}/mood"),
        only(["therapist"], None, therapist=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    # district administration
    "districts.roster": Route("GET", lambda w, v: "/roster", only(["district_admin"], 200)),
    "districts.roster_preview": Route(
        "GET", lambda w, v: f"/roster/{_roster_upload(w, v).id}",
        only(["district_admin"], None, district_admin=(200, 404)), variants=("district_admin", "foreign_admin"),
    ),
    "districts.roster_apply": Route(
        "POST", lambda w, v: f"/roster/{_roster_upload(w, v).id}/apply",
        only(["district_admin"], None, district_admin=(302, 404)), variants=("district_admin", "foreign_admin"),
    ),
    "districts.caseloads": Route("GET", lambda w, v: "/caseloads", only(ADMINS, 200)),
    "districts.assign_caseloads": Route("POST", lambda w, v: "/caseloads/assign", only(ADMINS, 302)),
    # district administration: people and dashboards
    "districts.create_school": Route("POST", lambda w, v: "/schools/new", only(["district_admin"], 302)),
    "districts.edit_school": Route(
        "POST", _id("", "/schools/{id}/edit"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "districts.invite_staff": Route("GET", lambda w, v: "/staff/invite", only(ADMINS, 200)),
    "districts.staff_member": Route(
        "GET", _id("", "/staff/{id}"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=STAFF_VARIANTS,
    ),
    "districts.change_staff_role": Route(
        "POST", _id("", "/staff/{id}/role"),
        only(["district_admin"], None, district_admin=(302, 302, 404)), variants=STAFF_VARIANTS,
    ),
    "districts.staff_schools": Route(
        "POST", _id("", "/staff/{id}/schools"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=STAFF_VARIANTS,
    ),
    "districts.resend_invitation": Route(
        "POST", _id("", "/staff/{id}/resend-invitation"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=STAFF_VARIANTS,
    ),
    "districts.accept_invite": Route("GET", lambda w, v: "/welcome/not-a-token", expect(400, anonymous=400)),
    "districts.edit_student": Route(
        "GET", _id("", "/students/{id}/edit"),
        only(ADMINS, None, district_admin=(200, 200, 200, 404), school_admin=(200, 200, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "districts.add_guardian_link": Route(
        "POST", _id("", "/students/{id}/guardians"),
        only(ADMINS, None, district_admin=(302, 302, 302, 404), school_admin=(302, 302, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "districts.edit_guardian_link": Route(
        "POST", lambda w, v: f"/guardian-links/{_guardian_link(w, v).id}",
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=LINK_VARIANTS,
    ),
    "districts.remove_guardian_link": Route(
        "POST", lambda w, v: f"/guardian-links/{_guardian_link(w, v).id}/remove",
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=LINK_VARIANTS,
    ),
    "districts.dashboard": Route("GET", lambda w, v: "/dashboard", only(ADMINS, None, district_admin=200,
                                                                         school_admin=302)),
    "districts.dashboard_csv": Route("GET", lambda w, v: "/dashboard/sessions.csv", only(["district_admin"], 200)),
    "districts.school_dashboard": Route(
        "GET", _id("", "/dashboard/schools/{id}"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "districts.school_dashboard_csv": Route(
        "GET", _id("", "/dashboard/schools/{id}/consent.csv"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    # foundation
    "core.index": Route("GET", lambda w, v: "/", expect(302, anonymous=200)),
    "core.home": Route("GET", lambda w, v: "/home", expect(200)),
    "core.set_language": Route("POST", lambda w, v: "/language", expect(302), data={"lang": "es"}),
    "core.vendor_asset": Route("GET", lambda w, v: "/vendor/socket.io.min.js", expect(200, anonymous=200)),
    "auth.login": Route("GET", lambda w, v: "/login", expect(302, anonymous=200)),
    "auth.verify_totp": Route("GET", lambda w, v: "/login/verify", expect(302)),
    "auth.mfa_setup": Route("GET", lambda w, v: "/login/mfa-setup", expect(302)),
    "auth.logout": Route("POST", lambda w, v: "/logout", expect(302)),
    "auth.forgot_password": Route("GET", lambda w, v: "/password/forgot", expect(200, anonymous=200)),
    "auth.reset_password": Route("GET", lambda w, v: "/password/reset/not-a-token", expect(400, anonymous=400)),
    "auth.account": Route("GET", lambda w, v: "/account", expect(200)),
    "auth.change_password": Route("POST", lambda w, v: "/account/password", expect(302)),
    "auth.revoke_other_sessions": Route("POST", lambda w, v: "/account/sessions/revoke-others", expect(302)),
    "auth.enrol_totp": Route("GET", lambda w, v: "/account/totp", only(STAFF, 200)),
    "auth.remove_totp": Route("POST", lambda w, v: "/account/totp/remove", only(STAFF, 302)),
    "audit.events": Route("GET", lambda w, v: "/audit/", only(["district_admin"], 200)),
    "audit.export": Route("GET", lambda w, v: "/audit/export.csv", only(["district_admin"], 200)),
    "outbox.messages": Route("GET", lambda w, v: "/dev/outbox/", expect(200, anonymous=200)),
    "outbox.message": Route("GET", lambda w, v: "/dev/outbox/no-such-message", expect(404, anonymous=404)),
    "districts.schools": Route("GET", lambda w, v: "/schools", only(ADMINS, 200)),
    "districts.school": Route(
        "GET", _id("", "/schools/{id}"),
        only(STAFF, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404),
             therapist=(200, 404, 404)),
        variants=SCHOOL_VARIANTS,
    ),
    "districts.staff": Route("GET", lambda w, v: "/staff", only(ADMINS, 200)),
    "districts.deactivate_staff": Route(
        "POST", _id("", "/staff/{id}/deactivate"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)),
        variants=STAFF_VARIANTS,
    ),
    "districts.reactivate_staff": Route(
        "POST", _id("", "/staff/{id}/reactivate"),
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)),
        variants=STAFF_VARIANTS,
    ),
    "districts.students": Route("GET", lambda w, v: "/students", only(ADMINS, 200)),
    "districts.student": Route(
        "GET", _id("", "/students/{id}"),
        expect(None, district_admin=(200, 200, 200, 404), school_admin=(200, 200, 404, 404),
               therapist=(200, 404, 404, 404), guardian=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    # scheduling
    "scheduling.week": Route("GET", lambda w, v: "/schedule/", only(["therapist"], 200)),
    "scheduling.day": Route("GET", lambda w, v: "/schedule/day", only(["therapist"], 200)),
    "scheduling.book": Route("GET", lambda w, v: "/schedule/book", only(["therapist"], 200)),
    "scheduling.availability": Route("GET", lambda w, v: "/schedule/availability", only(["therapist"], 200)),
    "scheduling.add_time_off": Route("POST", lambda w, v: "/schedule/time-off", only(["therapist"], 200)),
    "scheduling.delete_availability": Route(
        "POST", lambda w, v: f"/schedule/availability/{_fresh('availability')(w, v).id}/delete",
        only(["therapist"], None, therapist=(302, 404, 404)), variants=STAFF_VARIANTS,
    ),
    "scheduling.delete_time_off": Route(
        "POST", lambda w, v: f"/schedule/time-off/{_fresh('time_off')(w, v).id}/delete",
        only(["therapist"], None, therapist=(302, 404, 404)), variants=STAFF_VARIANTS,
    ),
    "scheduling.feed": Route("GET", lambda w, v: "/schedule/feed", only(["therapist"], 200)),
    "scheduling.regenerate_feed": Route("POST", lambda w, v: "/schedule/feed/regenerate", only(["therapist"], 200)),
    "scheduling.revoke_feed": Route("POST", lambda w, v: "/schedule/feed/revoke", only(["therapist"], 302)),
    "scheduling.ical": Route(
        "GET", lambda w, v: f"/schedule/ical/{_feed_token(w, v)}.ics", expect((200, 404), anonymous=(200, 404)),
        variants=("valid", "bogus"),
    ),
    "scheduling.appointment": Route(
        "GET", lambda w, v: f"/schedule/appointments/{_scheduling(w)[v].id}",
        only(STAFF, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404), therapist=(200, 404, 404)),
        variants=APPOINTMENT_VARIANTS,
    ),
    "scheduling.cancel": Route(
        "POST", lambda w, v: f"/schedule/appointments/{_scheduling(w)[v].id}/cancel",
        only(STAFF, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404), therapist=(200, 404, 404)),
        variants=APPOINTMENT_VARIANTS,
    ),
    "scheduling.reschedule": Route(
        "POST", lambda w, v: f"/schedule/appointments/{_scheduling(w)[v].id}/reschedule",
        only(["therapist"], None, therapist=(200, 404, 404)), variants=APPOINTMENT_VARIANTS,
    ),
    "scheduling.attendance": Route(
        "POST", lambda w, v: f"/schedule/appointments/{_scheduling(w)[v].id}/attendance",
        only(["therapist"], None, therapist=(200, 404, 404)), variants=APPOINTMENT_VARIANTS,
    ),
    "scheduling.teachers": Route(
        "GET", _id("", "/schedule/students/{id}/teachers"),
        only(STAFF, None, district_admin=(200, 200, 200, 404), school_admin=(200, 200, 404, 404),
             therapist=(200, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "scheduling.delete_teacher": Route(
        "POST", lambda w, v: f"/schedule/teachers/{_fresh('teacher')(w, v).id}/delete",
        only(STAFF, None, district_admin=(302, 302, 302, 404), school_admin=(302, 302, 404, 404),
             therapist=(302, 404, 404, 404)),
        variants=STUDENT_VARIANTS,
    ),
    "scheduling.family": Route("GET", lambda w, v: "/schedule/family", only(["guardian"], 200)),
    "scheduling.reminder_preference": Route("POST", lambda w, v: "/schedule/family/reminders",
                                            only(["guardian"], 302), data={"enabled": "y"}),
    "scheduling.schools": Route("GET", lambda w, v: "/schedule/schools",
                                only(ADMINS, None, school_admin=302, district_admin=200)),
    "scheduling.school_sessions": Route(
        "GET", _id("", "/schedule/schools/{id}"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.school_calendar": Route(
        "GET", _id("", "/schedule/schools/{id}/calendar"),
        only(STAFF, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404), therapist=(200, 404, 404)),
        variants=SCHOOL_VARIANTS,
    ),
    "scheduling.add_bell_schedule": Route(
        "POST", _id("", "/schedule/schools/{id}/bell-schedules"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.add_calendar_days": Route(
        "POST", _id("", "/schedule/schools/{id}/days"),
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.bell_schedule": Route(
        "GET", lambda w, v: f"/schedule/bell-schedules/{_scheduling(w)[v].id}",
        only(STAFF, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404), therapist=(200, 404, 404)),
        variants=SCHOOL_VARIANTS,
    ),
    "scheduling.add_period": Route(
        "POST", lambda w, v: f"/schedule/bell-schedules/{_scheduling(w)[v].id}/periods",
        only(ADMINS, None, district_admin=(200, 200, 404), school_admin=(200, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.make_default_schedule": Route(
        "POST", lambda w, v: f"/schedule/bell-schedules/{_scheduling(w)[v].id}/default",
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.delete_bell_schedule": Route(
        "POST", lambda w, v: f"/schedule/bell-schedules/{_fresh('bell_schedule')(w, v).id}/delete",
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.delete_period": Route(
        "POST", lambda w, v: f"/schedule/periods/{_fresh('period')(w, v).id}/delete",
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    "scheduling.delete_calendar_day": Route(
        "POST", lambda w, v: f"/schedule/days/{_fresh('calendar_day')(w, v).id}/delete",
        only(ADMINS, None, district_admin=(302, 302, 404), school_admin=(302, 404, 404)), variants=SCHOOL_VARIANTS,
    ),
    # live sessions: preflight (public) and the after-session note (therapists with the student on
    # their caseload; the matrix's sessions are in the future, so writing is refused even for them)
    "preflight.index": Route("GET", lambda w, v: "/preflight/", expect(200, anonymous=200)),
    "preflight.ice_servers": Route("POST", lambda w, v: "/preflight/ice-servers", expect(200, anonymous=200)),
    "session_notes.note": Route(
        "GET", lambda w, v: f"/sessions/appointments/{_scheduling(w)[v].id}/note",
        only(["therapist"], None, therapist=(200, 404, 404)), variants=APPOINTMENT_VARIANTS,
    ),
    "session_notes.save_note": Route(
        "POST", lambda w, v: f"/sessions/appointments/{_scheduling(w)[v].id}/note",
        only(["therapist"], None, therapist=(403, 404, 404)), variants=APPOINTMENT_VARIANTS,
    ),
    # live sessions
    "sessions.open_room": Route(
        "POST", lambda w, v: f"/sessions/appointments/{_scheduling(w)[v].id}/open",
        only(["therapist"], None, therapist=(302, 404, 404)), variants=APPOINTMENT_VARIANTS,
    ),
    "sessions.room": Route(
        "GET", lambda w, v: f"/sessions/rooms/{_room(w, v)}",
        expect((404, 404, 404), anonymous=(404, 404, 404), therapist=(200, 404, 404), student=(200, 404, 404),
               waiting_student=(302, 404, 404)), variants=ROOM_VARIANTS,
    ),
    "sessions.new_link": Route(
        "POST", lambda w, v: f"/sessions/rooms/{_room(w, v)}/link",
        only(["therapist"], None, therapist=(200, 404, 404)), variants=ROOM_VARIANTS,
    ),
    "sessions.email_link": Route(
        "POST", lambda w, v: f"/sessions/rooms/{_room(w, v)}/email-link",
        only(["therapist"], None, therapist=(302, 404, 404)), variants=ROOM_VARIANTS,
    ),
    "sessions.end": Route(
        "POST", lambda w, v: f"/sessions/rooms/{_room(w, v)}/end",
        only(["therapist"], None, therapist=(302, 404, 404)), variants=ROOM_VARIANTS,
    ),
    "sessions.assent": Route(
        "GET", lambda w, v: f"/sessions/rooms/{_room(w, v)}/ready",
        expect((404, 404, 404), anonymous=(404, 404, 404), student=(200, 404, 404), waiting_student=(200, 404, 404)),
        variants=ROOM_VARIANTS,
    ),
    "sessions.waiting": Route(
        "GET", lambda w, v: f"/sessions/rooms/{_room(w, v)}/waiting",
        expect((404, 404, 404), anonymous=(404, 404, 404), student=(302, 404, 404), waiting_student=(200, 404, 404)),
        variants=ROOM_VARIANTS,
    ),
    "sessions.join": Route("GET", lambda w, v: "/join", expect(200, anonymous=200)),
    "sessions.join_link": Route("GET", lambda w, v: "/join/not-a-token", expect(200, anonymous=200)),
}


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    missing = endpoints - set(ROUTES)
    assert not missing, f"add these endpoints to the permission matrix: {sorted(missing)}"
    stale = set(ROUTES) - endpoints
    assert not stale, f"these matrix entries have no route: {sorted(stale)}"


def test_every_view_declares_a_permission_rule(app):
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        assert getattr(view, "permission_rule", None), f"{endpoint} has neither @requires nor @public"


LEAKS_FOR_DISTRICT_A = ("Foreign Student", "Beta District", "Beta Elementary", "t@beta.example")


def _check(app, world, endpoint, role, variant, expected) -> list[str]:
    """One request as `role`; returns the problems found (empty when all is as expected)."""
    route = ROUTES[endpoint]
    client = app.test_client()
    if role in STUDENTS:
        grant = _student_grant(world, role)
        with client.session_transaction() as session:
            session["student_grants"] = {str(grant.room_id): grant.id}
    elif role != "anonymous":
        response = login(client, getattr(world, role))
        assert response.status_code == 302, f"could not sign in as {role}"
    path = route.url(world, variant)
    if route.method == "GET":
        response = client.get(path)
    else:
        token = get_csrf(client, "/home" if role in SIGNED_IN else "/login")
        response = client.post(path, data={**route.data, "csrf_token": token})
    body = response.get_data().decode("utf-8", errors="replace")
    response.close()
    problems = []
    where = f"{role} {route.method} {path}"
    if response.status_code != expected:
        problems.append(f"{where}: {response.status_code} != {expected}")
    if (response.status_code == 302 and role not in SIGNED_IN
            and endpoint not in ("core.set_language", "auth.logout", "consent.switch_account")):
        location = response.headers["Location"]
        own_room = f"/sessions/rooms/{_rooms(world)['own_room'].id}" if role in STUDENTS else None
        if "/login" not in location and not (own_room and location.split("?")[0].startswith(own_room)):
            problems.append(f"{where}: {role} redirected to {location}, not the sign-in page")
    problems += [f"{where}: saw {leak!r}" for leak in LEAKS_FOR_DISTRICT_A if leak in body]
    if role in ("guardian", *STUDENTS) and ("Other Student" in body or "Middle Student" in body):
        problems.append(f"{where}: a {role} saw another family's child")
    return problems


@pytest.mark.parametrize("endpoint", list(ROUTES))
def test_matrix(app, world, endpoint):
    """Every role against every variant of one route (one database, each role its own browser)."""
    route = ROUTES[endpoint]
    problems = []
    for role in ROLES:
        for index, variant in enumerate(route.variants):
            expected = route.expected[role]
            if isinstance(expected, tuple):
                expected = expected[index]
            problems += _check(app, world, endpoint, role, variant, expected)
    assert not problems, "\n".join(problems)
