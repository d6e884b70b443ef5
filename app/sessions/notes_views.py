"""After the session: attendance, minutes and the private DAP note, on one page.

Attendance goes through the scheduling service (`booking.record_attendance`, the session's own
therapist only); the note through `notes.write_note` (any therapist with the student on their
caseload). Each is its own transaction: a saved attendance stays saved if the note is refused.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import Length, NumberRange, Optional

from app import permissions
from app.permissions import authorize, requires
from app.scheduling import booking
from app.scheduling.forms import ATTENDANCE_LABELS
from app.scheduling.models import Appointment
from app.scheduling.services import SchedulingError
from app.sessions.notes import MAX_FIELD_CHARS, SessionNoteError, connected_minutes, note_for, suggested_minutes
from app.sessions.notes import write_note as write_note_service
from app.tenancy import get_in_district
from app.web import client_ip

bp = Blueprint("session_notes", __name__, url_prefix="/sessions")


class AfterSessionForm(FlaskForm):
    attendance = RadioField("What happened", choices=[C(k, v) for k, v in ATTENDANCE_LABELS.items()],
                            validators=[Optional()])
    minutes = IntegerField("Minutes delivered", validators=[Optional(), NumberRange(min=1, max=480)])
    dap_data = TextAreaField("Data: what happened in the session", validators=[Length(max=MAX_FIELD_CHARS)])
    dap_assessment = TextAreaField("Assessment: your clinical view", validators=[Length(max=MAX_FIELD_CHARS)])
    dap_plan = TextAreaField("Plan: next steps", validators=[Length(max=MAX_FIELD_CHARS)])


def _appointment(appointment_id: int) -> Appointment:
    """The session, if this therapist may read its note; 404 otherwise (as if it did not exist)."""
    appointment = get_in_district(Appointment, appointment_id, current_user.district_id)
    authorize(permissions.can_view_session_note(current_user, appointment), not_found=True)
    return appointment


def _render(appointment: Appointment, form: AfterSessionForm, status: int = 200):
    can_attend = permissions.can_change_appointment(current_user, appointment)
    return render_template(
        "sessions/note.html", appointment=appointment, form=form, can_attend=can_attend,
        can_write=permissions.can_write_session_note(current_user, appointment),
        connected=connected_minutes(appointment), note=note_for(appointment), attendance_labels=ATTENDANCE_LABELS,
    ), status


@bp.route("/appointments/<int:appointment_id>/note")
@requires(permissions.is_therapist)
def note(appointment_id: int):
    appointment = _appointment(appointment_id)
    existing = note_for(appointment)
    form = AfterSessionForm(formdata=None)
    form.attendance.data = appointment.attendance or "attended"
    form.minutes.data = suggested_minutes(appointment)
    if existing is not None:
        form.dap_data.data, form.dap_assessment.data, form.dap_plan.data = existing.data, existing.assessment, existing.plan
    return _render(appointment, form)


@bp.route("/appointments/<int:appointment_id>/note", methods=["POST"])
@requires(permissions.is_therapist)
def save_note(appointment_id: int):
    appointment = _appointment(appointment_id)
    authorize(permissions.can_write_session_note(current_user, appointment))
    form = AfterSessionForm()
    if not form.validate_on_submit():
        return _render(appointment, form, 400)
    records_attendance = bool(permissions.can_change_appointment(current_user, appointment) and form.attendance.data)
    has_note = any((f.data or "").strip() for f in (form.dap_data, form.dap_assessment, form.dap_plan))
    if not records_attendance and not has_note:
        form.dap_data.errors = [*form.dap_data.errors, "Write at least one part of the note."]
        return _render(appointment, form, 400)
    if records_attendance:
        try:
            booking.record_attendance(current_user, appointment, attendance=form.attendance.data,
                                      minutes_delivered=form.minutes.data, ip=client_ip())
        except SchedulingError as exc:
            form.minutes.errors = [*form.minutes.errors, str(exc)]
            return _render(appointment, form, 400)
    if has_note:
        try:
            write_note_service(current_user, appointment, data=form.dap_data.data, assessment=form.dap_assessment.data,
                               plan=form.dap_plan.data, ip=client_ip())
        except SessionNoteError as exc:
            form.dap_data.errors = [*form.dap_data.errors, str(exc)]
            return _render(appointment, form, 400)
    flash("Saved the attendance and your note." if records_attendance and has_note
          else "Saved the attendance." if records_attendance else "Saved your note.", "success")
    return redirect(url_for("session_notes.note", appointment_id=appointment.id))
