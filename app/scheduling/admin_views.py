"""School pages of the scheduling blueprint: a school's sessions, its bell schedules and calendar."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app import permissions
from app.auth.forms import ConfirmForm
from app.db_types import utcnow
from app.districts import queries as district_queries
from app.districts.models import School
from app.permissions import authorize, requires
from app.scheduling import calendar, queries
from app.scheduling.forms import BellScheduleForm, CalendarDaysForm, PeriodForm
from app.scheduling.models import WEEKDAYS, BellPeriod, BellSchedule, CalendarDay
from app.scheduling.services import SchedulingError, day_label, local_today
from app.scheduling.views import STATUS_LABELS, _date_arg, bp
from app.tenancy import get_in_district
from app.web import client_ip


def _school(school_id: int, rule) -> School:
    school = get_in_district(School, school_id, current_user.district_id)
    authorize(rule(current_user, school), not_found=True)
    return school


def _schedule(schedule_id: int, rule) -> BellSchedule:
    schedule = get_in_district(BellSchedule, schedule_id, current_user.district_id)
    authorize(rule(current_user, schedule.school), not_found=True)
    return schedule


@bp.route("/schools")
@requires(permissions.is_admin)
def schools():
    visible = district_queries.visible_schools(current_user)
    if len(visible) == 1:
        return redirect(url_for("scheduling.school_sessions", school_id=visible[0].id))
    return render_template("scheduling/schools.html", schools=visible)


@bp.route("/schools/<int:school_id>")
@requires(permissions.is_admin)
def school_sessions(school_id: int):
    school = _school(school_id, permissions.can_view_school_sessions)
    today = local_today(utcnow(), school.timezone)
    start = queries.week_start(_date_arg("week") or today)
    days = [start + timedelta(days=i) for i in range(7)]
    sessions = queries.school_sessions(school.id, days[0], days[-1])
    infos = calendar.day_infos(school.id, days[0], days[-1])
    shown = [d for d in days if d.weekday() < 5 or any(s.local_date == d for s in sessions)]
    return render_template("scheduling/school_sessions.html", school=school, days=shown, infos=infos,
                           by_day={d: [s for s in sessions if s.local_date == d] for d in shown}, start=start,
                           prev_week=start - timedelta(days=7), next_week=start + timedelta(days=7),
                           labels=STATUS_LABELS)


# --- bell schedules and the school calendar -------------------------------------------------------


def _days_form(school: School, form: CalendarDaysForm | None = None) -> CalendarDaysForm:
    form = form or CalendarDaysForm(formdata=None)
    form.what.choices = [SelectChoice("no_school", "No school")] + [
        SelectChoice(f"schedule:{s.id}", f"School day on the “{s.name}” schedule") for s in calendar.schedules(school.id)]
    return form


def _render_calendar(school: School, *, schedule_form=None, days_form=None):
    all_schedules = calendar.schedules(school.id)
    schedule_form = schedule_form or BellScheduleForm(formdata=None)
    schedule_form.copy_from.choices = [SelectChoice(0, "An empty schedule")] + [
        SelectChoice(s.id, f"A copy of “{s.name}”") for s in all_schedules]
    today = local_today(utcnow(), school.timezone)
    return render_template(
        "scheduling/school_calendar.html", school=school, schedules=all_schedules, weekdays=WEEKDAYS,
        days=queries.calendar_days(school.id, today - timedelta(days=7)), schedule_form=schedule_form,
        days_form=_days_form(school, days_form), confirm_form=ConfirmForm(),
        can_manage=permissions.can_manage_school_calendar(current_user, school))


@bp.route("/schools/<int:school_id>/calendar")
@requires(permissions.is_staff)
def school_calendar(school_id: int):
    return _render_calendar(_school(school_id, permissions.can_view_school_calendar))


@bp.route("/schools/<int:school_id>/bell-schedules", methods=["POST"])
@requires(permissions.is_admin)
def add_bell_schedule(school_id: int):
    school = _school(school_id, permissions.can_manage_school_calendar)
    form = BellScheduleForm()
    form.copy_from.choices = [SelectChoice(0, "")] + [SelectChoice(s.id, s.name) for s in calendar.schedules(school.id)]
    if form.validate_on_submit():
        source = get_in_district(BellSchedule, form.copy_from.data, current_user.district_id) if form.copy_from.data else None
        try:
            schedule = calendar.create_bell_schedule(current_user, school, form.name.data, copy_from=source,
                                                     ip=client_ip())
        except SchedulingError as exc:
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            flash(f"Added the “{schedule.name}” bell schedule. Now add its periods.", "success")
            return redirect(url_for("scheduling.bell_schedule", schedule_id=schedule.id))
    return _render_calendar(school, schedule_form=form)


@bp.route("/schools/<int:school_id>/days", methods=["POST"])
@requires(permissions.is_admin)
def add_calendar_days(school_id: int):
    school = _school(school_id, permissions.can_manage_school_calendar)
    form = _days_form(school, CalendarDaysForm())
    if form.validate_on_submit():
        kind, _sep, schedule_id = form.what.data.partition(":")
        schedule = get_in_district(BellSchedule, int(schedule_id), current_user.district_id) if schedule_id else None
        try:
            result = calendar.mark_days(current_user, school, first=form.first.data, last=form.last.data,
                                        kind=kind, schedule=schedule, label=form.label.data, ip=client_ip())
        except SchedulingError as exc:
            form.first.errors = [*form.first.errors, str(exc)]
        else:
            message = f"Saved {result['days']} day(s) on the calendar of {school.name}."
            if result["sessions_on_closed_days"]:
                message += (f" {result['sessions_on_closed_days']} session(s) are booked on those days: "
                            "their therapists should move or cancel them.")
            flash(message, "success")
            return redirect(url_for("scheduling.school_calendar", school_id=school.id))
    return _render_calendar(school, days_form=form)


@bp.route("/days/<int:day_id>/delete", methods=["POST"])
@requires(permissions.is_admin)
def delete_calendar_day(day_id: int):
    row = get_in_district(CalendarDay, day_id, current_user.district_id)
    school = _school(row.school_id, permissions.can_manage_school_calendar)
    if ConfirmForm().validate_on_submit():
        calendar.remove_day(current_user, row, ip=client_ip())
        flash(f"{day_label(row.day)} follows the default schedule again.", "success")
    return redirect(url_for("scheduling.school_calendar", school_id=school.id))


def _render_schedule(schedule: BellSchedule, period_form=None):
    period_names = []
    for period in schedule.periods:
        if period.name not in period_names:
            period_names.append(period.name)
    period_names.sort(key=lambda n: min(p.starts_local for p in schedule.periods if p.name == n))
    grid = {(p.name, p.weekday): p for p in schedule.periods}
    shown_days = sorted({0, 1, 2, 3, 4} | {p.weekday for p in schedule.periods})
    return render_template("scheduling/bell_schedule.html", schedule=schedule, school=schedule.school,
                           period_names=period_names, grid=grid, weekdays=WEEKDAYS, shown_days=shown_days,
                           period_form=period_form or PeriodForm(formdata=None), confirm_form=ConfirmForm(),
                           can_manage=permissions.can_manage_school_calendar(current_user, schedule.school))


@bp.route("/bell-schedules/<int:schedule_id>")
@requires(permissions.is_staff)
def bell_schedule(schedule_id: int):
    return _render_schedule(_schedule(schedule_id, permissions.can_view_school_calendar))


@bp.route("/bell-schedules/<int:schedule_id>/periods", methods=["POST"])
@requires(permissions.is_admin)
def add_period(schedule_id: int):
    schedule = _schedule(schedule_id, permissions.can_manage_school_calendar)
    form = PeriodForm()
    if form.validate_on_submit():
        try:
            calendar.set_period(current_user, schedule, name=form.name.data, weekdays=form.weekdays.data,
                                starts=form.starts.data, ends=form.ends.data, ip=client_ip())
        except SchedulingError as exc:
            form.ends.errors = [*form.ends.errors, str(exc)]
        else:
            flash(f"Saved {form.name.data.strip()}.", "success")
            return redirect(url_for("scheduling.bell_schedule", schedule_id=schedule.id))
    return _render_schedule(schedule, period_form=form)


@bp.route("/periods/<int:period_id>/delete", methods=["POST"])
@requires(permissions.is_admin)
def delete_period(period_id: int):
    period = get_in_district(BellPeriod, period_id, current_user.district_id)
    schedule = _schedule(period.schedule_id, permissions.can_manage_school_calendar)
    if ConfirmForm().validate_on_submit():
        calendar.delete_period(current_user, period, ip=client_ip())
        flash(f"Removed {period.name} on {WEEKDAYS[period.weekday]}s.", "success")
    return redirect(url_for("scheduling.bell_schedule", schedule_id=schedule.id))


@bp.route("/bell-schedules/<int:schedule_id>/default", methods=["POST"])
@requires(permissions.is_admin)
def make_default_schedule(schedule_id: int):
    schedule = _schedule(schedule_id, permissions.can_manage_school_calendar)
    if ConfirmForm().validate_on_submit():
        calendar.make_default(current_user, schedule, ip=client_ip())
        flash(f"“{schedule.name}” is now the default schedule.", "success")
    return redirect(url_for("scheduling.school_calendar", school_id=schedule.school_id))


@bp.route("/bell-schedules/<int:schedule_id>/delete", methods=["POST"])
@requires(permissions.is_admin)
def delete_bell_schedule(schedule_id: int):
    schedule = _schedule(schedule_id, permissions.can_manage_school_calendar)
    school_id, name = schedule.school_id, schedule.name
    if ConfirmForm().validate_on_submit():
        try:
            calendar.delete_bell_schedule(current_user, schedule, ip=client_ip())
        except SchedulingError as exc:
            flash(str(exc), "error")
        else:
            flash(f"Deleted the “{name}” bell schedule.", "success")
    return redirect(url_for("scheduling.school_calendar", school_id=school_id))
