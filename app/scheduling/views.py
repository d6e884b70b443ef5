"""Scheduling pages: the therapist's week and day, booking, one session, availability, the iCal
feed, teachers to notify, and the guardian's view. School calendars are in `admin_views.py`."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app import permissions
from app.auth.forms import ConfirmForm
from app.db_types import utcnow
from app.districts import queries as district_queries
from app.districts.models import School, Student
from app.extensions import limiter
from app.permissions import authorize, public, requires
from app.scheduling import booking, calendar, contacts, feeds, queries
from app.scheduling.forms import (
    ATTENDANCE_LABELS,
    AttendanceForm,
    AvailabilityForm,
    BookingForm,
    CancelForm,
    ReminderPreferenceForm,
    RescheduleForm,
    TeacherContactForm,
    TimeOffForm,
)
from app.scheduling.models import WEEKDAYS, Appointment, Availability, TeacherContact, TimeOff
from app.scheduling.services import SchedulingError, clock, day_label, local_today, to_local
from app.tenancy import get_in_district
from app.web import client_ip, external_url

bp = Blueprint("scheduling", __name__, url_prefix="/schedule")

STATUS_LABELS = {"scheduled": "Scheduled", "needs_consent": "Needs consent", "completed": "Completed",
                 "cancelled": "Cancelled"}


# --- template helpers -----------------------------------------------------------------------------


def _lang() -> str:
    lang = str(get_locale() or "en")
    return lang if lang in current_app.config["LANGUAGES"] else "en"


@bp.app_template_filter("school_clock")
def school_clock(instant, tz_name: str) -> str:
    """A UTC instant as a time of day at the school: `{{ a.starts_at|school_clock(a.school.timezone) }}`."""
    return clock(to_local(instant, tz_name), _lang())


@bp.app_template_filter("day_label")
def day_label_filter(day: date, fmt: str = "EEE d MMM y") -> str:
    return day_label(day, _lang(), fmt)


@bp.app_template_filter("local_stamp")
def local_stamp(instant, tz_name: str) -> str:
    """A UTC instant as a date and time at the school ("Mon 23 Nov 2026, 3:05 pm")."""
    local = to_local(instant, tz_name)
    return f"{day_label(local.date(), _lang())}, {clock(local, _lang())}"


@bp.app_template_filter("clock")
def clock_filter(at) -> str:
    return clock(at, _lang())


@bp.app_template_global()
def schedule_today():
    """The therapist home page's "Today" card, without core importing scheduling."""
    now = utcnow()
    today = local_today(now, calendar.home_zone(current_user))
    return {"today": today, "sessions": [a for a in queries.therapist_sessions(current_user.id, today, today)],
            "needs_consent": queries.sessions_needing_consent(current_user.id, now),
            "to_record": queries.sessions_to_record(current_user.id, now), "labels": STATUS_LABELS}


@bp.app_template_global()
def schedule_family():
    """The guardian home page's upcoming sessions, without core importing scheduling."""
    return queries.family_sessions(current_user, utcnow(), per_child=3)


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _appointment(appointment_id: int) -> Appointment:
    appointment = get_in_district(Appointment, appointment_id, current_user.district_id)
    authorize(permissions.can_view_appointment(current_user, appointment), not_found=True)
    return appointment


def _period_choices(schools: list[School]) -> list[SelectChoice]:
    choices = [SelectChoice("", "Choose a period")]
    for school in schools:
        choices += [SelectChoice(name, name, render_kw={"data-school": school.id}, optgroup=school.name)
                    for name in calendar.period_names(school.id)]
    return choices


def _when(form) -> dict:
    by_period = form.start_by.data == "period"
    return {"start_time": None if by_period else form.start_time.data,
            "period_name": (form.period.data or None) if by_period else None,
            "duration_minutes": form.duration.data or None}


# --- the therapist's calendar ---------------------------------------------------------------------


@bp.route("/")
@requires(permissions.is_therapist)
def week():
    now = utcnow()
    today = local_today(now, calendar.home_zone(current_user))
    # On a weekend the coming school week is the one to plan.
    start = queries.week_start(_date_arg("week") or (today + timedelta(days=2) if today.weekday() >= 5 else today))
    days = [start + timedelta(days=i) for i in range(7)]
    sessions = queries.therapist_sessions(current_user.id, days[0], days[-1])
    by_day = {d: [s for s in sessions if s.local_date == d] for d in days}
    shown = [d for d in days if d.weekday() < 5 or by_day[d]]
    closed = {}
    for school in current_user.schools:
        for day, info in calendar.day_infos(school.id, days[0], days[-1]).items():
            if not info.school_day and day.weekday() < 5:
                closed.setdefault(day, []).append(f"{school.name}: {info.label or 'no school'}")
            elif info.label:
                closed.setdefault(day, []).append(f"{school.name}: {info.label}")
    return render_template("scheduling/week.html", days=shown, by_day=by_day, start=start, today=today,
                           notes=closed, prev_week=start - timedelta(days=7), next_week=start + timedelta(days=7),
                           needs_consent=queries.sessions_needing_consent(current_user.id, now),
                           to_record=queries.sessions_to_record(current_user.id, now), labels=STATUS_LABELS)


@bp.route("/day")
@requires(permissions.is_therapist)
def day():
    today = local_today(utcnow(), calendar.home_zone(current_user))
    chosen = _date_arg("date") or today
    sessions = queries.therapist_sessions(current_user.id, chosen, chosen)
    schools = [(school, calendar.day_info(school.id, chosen)) for school in current_user.schools]
    return render_template("scheduling/day.html", day=chosen, today=today, sessions=sessions, schools=schools,
                           labels=STATUS_LABELS, prev_day=chosen - timedelta(days=1),
                           next_day=chosen + timedelta(days=1))


@bp.route("/book", methods=["GET", "POST"])
@requires(permissions.is_therapist)
def book():
    now = utcnow()
    students = [s for s in district_queries.current_caseload(current_user)
                if permissions.can_book_session(current_user, s, now)]
    form = BookingForm()
    form.student.choices = [SelectChoice(0, "Choose a student")] + [
        SelectChoice(s.id, f"{s.display_name} ({s.school.name})", render_kw={"data-school": s.school_id})
        for s in students]
    form.period.choices = _period_choices(current_user.schools)
    if request.method == "GET":
        form.student.data = request.args.get("student", type=int) or 0
        form.first_date.data = _date_arg("date")
    conflicts, advice = [], []
    if form.validate_on_submit():
        student = get_in_district(Student, form.student.data, current_user.district_id)
        authorize(permissions.can_book_session(current_user, student, now), not_found=True)
        repeat = form.repeat.data
        try:
            result = booking.book(
                current_user, student, first_date=form.first_date.data, modality=form.modality.data,
                repeat=repeat, occurrences=form.occurrences.data if repeat != "none" and form.ends.data == "count" else None,
                until=form.until.data if repeat != "none" and form.ends.data == "until" else None,
                skip_conflicts=form.skip_conflicts.data, ip=client_ip(), now=now, **_when(form),
            )
        except booking.BookingConflict as exc:
            conflicts, advice = exc.conflicts, exc.advice
        except SchedulingError as exc:
            flash(str(exc), "error")
        else:
            count = len(result.appointments)
            message = f"Booked {count} session{'s' if count != 1 else ''} with {student.display_name}."
            if result.left_out:
                message += " Left out: " + "; ".join(f"{day_label(d)} ({why})" for d, why in result.left_out) + "."
            flash(message, "success")
            return redirect(url_for("scheduling.week", week=result.appointments[0].local_date.isoformat()))
    return render_template("scheduling/book.html", form=form, students=students, conflicts=conflicts, advice=advice,
                           has_availability=bool(calendar.availability(current_user.id)))


# --- one session ----------------------------------------------------------------------------------


def _render_appointment(appointment: Appointment, **forms):
    now = utcnow()
    reschedule_form = forms.get("reschedule_form") or RescheduleForm(formdata=None)
    if "reschedule_form" not in forms:
        local_start = to_local(appointment.starts_at, appointment.school.timezone)
        reschedule_form.new_date.data = appointment.local_date
        reschedule_form.start_time.data = local_start.time()
        reschedule_form.duration.data = appointment.duration_minutes
        reschedule_form.modality.data = appointment.modality
        if appointment.period_name:
            reschedule_form.start_by.data, reschedule_form.period.data = "period", appointment.period_name
    reschedule_form.period.choices = _period_choices([appointment.school])
    series = queries.series_sessions(appointment.series_id) if appointment.series_id else []
    return render_template(
        "scheduling/appointment.html", appointment=appointment, now=now, series=series, labels=STATUS_LABELS,
        attendance_labels=ATTENDANCE_LABELS, reschedule_form=reschedule_form,
        cancel_form=forms.get("cancel_form") or CancelForm(formdata=None),
        attendance_form=forms.get("attendance_form") or AttendanceForm(formdata=None),
        conflicts=forms.get("conflicts", []), advice=forms.get("advice", []),
        can_change=permissions.can_change_appointment(current_user, appointment),
        can_cancel=permissions.can_cancel_appointment(current_user, appointment),
    )


@bp.route("/appointments/<int:appointment_id>")
@requires(permissions.is_staff)
def appointment(appointment_id: int):
    return _render_appointment(_appointment(appointment_id))


@bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@requires(permissions.is_staff)
def cancel(appointment_id: int):
    appointment = _appointment(appointment_id)
    authorize(permissions.can_cancel_appointment(current_user, appointment))
    form = CancelForm()
    if form.validate_on_submit():
        try:
            booking.cancel(current_user, appointment, party=form.party.data, reason=form.reason.data, ip=client_ip())
        except SchedulingError as exc:
            form.reason.errors = [*form.reason.errors, str(exc)]
        else:
            flash(f"Cancelled the session of {day_label(appointment.local_date)}. The time is free again.", "success")
            return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))
    return _render_appointment(appointment, cancel_form=form)


@bp.route("/appointments/<int:appointment_id>/reschedule", methods=["POST"])
@requires(permissions.is_therapist)
def reschedule(appointment_id: int):
    appointment = _appointment(appointment_id)
    authorize(permissions.can_change_appointment(current_user, appointment))
    form = RescheduleForm()
    form.period.choices = _period_choices([appointment.school])
    conflicts, advice = [], []
    if form.validate_on_submit():
        try:
            booking.reschedule(current_user, appointment, new_date=form.new_date.data, reason=form.reason.data,
                               modality=form.modality.data, ip=client_ip(), **_when(form))
        except booking.BookingConflict as exc:
            conflicts, advice = exc.conflicts, exc.advice
        except SchedulingError as exc:
            form.reason.errors = [*form.reason.errors, str(exc)]
        else:
            flash(f"Moved to {day_label(appointment.local_date)} at "
                  f"{school_clock(appointment.starts_at, appointment.school.timezone)}.", "success")
            return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))
    return _render_appointment(appointment, reschedule_form=form, conflicts=conflicts, advice=advice)


@bp.route("/appointments/<int:appointment_id>/attendance", methods=["POST"])
@requires(permissions.is_therapist)
def attendance(appointment_id: int):
    appointment = _appointment(appointment_id)
    authorize(permissions.can_change_appointment(current_user, appointment))
    form = AttendanceForm()
    if form.validate_on_submit():
        try:
            booking.record_attendance(current_user, appointment, attendance=form.attendance.data,
                                      minutes_delivered=form.minutes.data, ip=client_ip())
        except SchedulingError as exc:
            form.minutes.errors = [*form.minutes.errors, str(exc)]
        else:
            flash(f"Saved: {ATTENDANCE_LABELS[appointment.attendance]}.", "success")
            return redirect(url_for("scheduling.appointment", appointment_id=appointment.id))
    return _render_appointment(appointment, attendance_form=form)


# --- availability and time off --------------------------------------------------------------------


def _render_availability(availability_form=None, time_off_form=None):
    form = availability_form or AvailabilityForm(formdata=None)
    form.school.choices = [SelectChoice(s.id, s.name) for s in current_user.schools]
    windows = calendar.availability(current_user.id)
    return render_template("scheduling/availability.html", form=form, time_off_form=time_off_form or TimeOffForm(
        formdata=None), windows=windows, time_off=queries.time_off(current_user.id, utcnow()), weekdays=WEEKDAYS,
        tz=calendar.home_zone(current_user), confirm_form=ConfirmForm())


@bp.route("/availability", methods=["GET", "POST"])
@requires(permissions.is_therapist)
def availability():
    form = AvailabilityForm()
    form.school.choices = [SelectChoice(s.id, s.name) for s in current_user.schools]
    if request.method == "POST" and form.validate_on_submit():
        school = get_in_district(School, form.school.data, current_user.district_id)
        try:
            calendar.add_availability(current_user, school, weekdays=form.weekdays.data, starts=form.starts.data,
                                      ends=form.ends.data, ip=client_ip())
        except SchedulingError as exc:
            form.ends.errors = [*form.ends.errors, str(exc)]
        else:
            flash("Availability added.", "success")
            return redirect(url_for("scheduling.availability"))
    return _render_availability(availability_form=form if request.method == "POST" else None)


@bp.route("/availability/<int:window_id>/delete", methods=["POST"])
@requires(permissions.is_therapist)
def delete_availability(window_id: int):
    window = get_in_district(Availability, window_id, current_user.district_id)
    authorize(window.therapist_id == current_user.id, not_found=True)
    if ConfirmForm().validate_on_submit():
        calendar.delete_availability(current_user, window, ip=client_ip())
        flash("Availability removed. Sessions already booked stay booked.", "success")
    return redirect(url_for("scheduling.availability"))


@bp.route("/time-off", methods=["POST"])
@requires(permissions.is_therapist)
def add_time_off():
    form = TimeOffForm()
    if form.validate_on_submit():
        try:
            calendar.add_time_off(current_user, first=form.first.data, last=form.last.data, starts=form.starts.data,
                                  ends=form.ends.data, label=form.label.data, ip=client_ip())
        except SchedulingError as exc:
            form.first.errors = [*form.first.errors, str(exc)]
        else:
            flash("Time off added. New bookings during it are refused; move any sessions already booked.", "success")
            return redirect(url_for("scheduling.availability"))
    return _render_availability(time_off_form=form)


@bp.route("/time-off/<int:time_off_id>/delete", methods=["POST"])
@requires(permissions.is_therapist)
def delete_time_off(time_off_id: int):
    row = get_in_district(TimeOff, time_off_id, current_user.district_id)
    authorize(row.therapist_id == current_user.id, not_found=True)
    if ConfirmForm().validate_on_submit():
        calendar.delete_time_off(current_user, row, ip=client_ip())
        flash("Time off removed.", "success")
    return redirect(url_for("scheduling.availability"))


# --- the iCal feed --------------------------------------------------------------------------------


@bp.route("/feed")
@requires(permissions.is_therapist)
def feed():
    return render_template("scheduling/feed.html", feed=feeds.feed_of(current_user), new_url=None,
                           confirm_form=ConfirmForm())


@bp.route("/feed/regenerate", methods=["POST"])
@requires(permissions.is_therapist)
def regenerate_feed():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("scheduling.feed"))
    token = feeds.issue_feed(current_user, ip=client_ip())
    # Shown once, in this response: only the token's hash is stored.
    return render_template("scheduling/feed.html", feed=feeds.feed_of(current_user),
                           new_url=external_url("scheduling.ical", token=token), confirm_form=ConfirmForm())


@bp.route("/feed/revoke", methods=["POST"])
@requires(permissions.is_therapist)
def revoke_feed():
    if ConfirmForm().validate_on_submit() and feeds.revoke_feed(current_user, ip=client_ip()):
        flash("Your calendar feed is turned off. Calendars subscribed to it stop updating.", "success")
    return redirect(url_for("scheduling.feed"))


@bp.route("/ical/<token>.ics")
@limiter.limit(lambda: current_app.config["SCHEDULE_ICAL_RATE_LIMIT"], scope="schedule-ical")
@public
def ical(token: str):
    feed = feeds.feed_for_token(token)
    if feed is None:
        return Response("This calendar feed does not exist or was turned off.\n", status=404, mimetype="text/plain")
    return Response(feeds.feed_ics(feed), mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="homeroom.ics"'})


# --- teachers to notify ---------------------------------------------------------------------------


@bp.route("/students/<int:student_id>/teachers", methods=["GET", "POST"])
@requires(permissions.is_staff)
def teachers(student_id: int):
    student = get_in_district(Student, student_id, current_user.district_id)
    authorize(permissions.can_manage_teacher_contacts(current_user, student), not_found=True)
    form = TeacherContactForm()
    form.period.choices = [SelectChoice("", "Choose a period")] + [
        SelectChoice(name, name) for name in calendar.period_names(student.school_id)]
    if form.validate_on_submit():
        try:
            contacts.set_teacher_contact(current_user, student, period_name=form.period.data, email=form.teacher_email.data,
                                ip=client_ip())
        except SchedulingError as exc:
            form.teacher_email.errors = [*form.teacher_email.errors, str(exc)]
        else:
            flash(f"Saved. The teacher of {form.period.data} hears of pull-outs the school day before.", "success")
            return redirect(url_for("scheduling.teachers", student_id=student.id))
    return render_template("scheduling/teachers.html", student=student, form=form,
                           teacher_contacts=queries.teacher_contacts(student.id), confirm_form=ConfirmForm())


@bp.route("/teachers/<int:contact_id>/delete", methods=["POST"])
@requires(permissions.is_staff)
def delete_teacher(contact_id: int):
    contact = get_in_district(TeacherContact, contact_id, current_user.district_id)
    student = get_in_district(Student, contact.student_id, current_user.district_id)
    authorize(permissions.can_manage_teacher_contacts(current_user, student), not_found=True)
    if ConfirmForm().validate_on_submit():
        contacts.delete_teacher_contact(current_user, contact, ip=client_ip())
        flash("Removed. That teacher is no longer notified.", "success")
    return redirect(url_for("scheduling.teachers", student_id=student.id))


# --- guardians ------------------------------------------------------------------------------------


@bp.route("/family")
@requires(permissions.is_guardian)
def family():
    form = ReminderPreferenceForm(formdata=None)
    form.enabled.data = queries.reminders_enabled(current_user.id)
    return render_template("scheduling/family.html", children=queries.family_sessions(current_user, utcnow()),
                           form=form)


@bp.route("/family/reminders", methods=["POST"])
@requires(permissions.is_guardian)
def reminder_preference():
    form = ReminderPreferenceForm()
    if form.validate_on_submit():
        pref = contacts.set_reminder_preference(current_user, bool(form.enabled.data), ip=client_ip())
        flash(_("Reminders are on. We email you the day before each session.") if pref.enabled
              else _("Reminders are off."), "success")
    return redirect(url_for("scheduling.family"))


from app.scheduling import admin_views  # noqa: E402,F401  (routes of the same blueprint)
