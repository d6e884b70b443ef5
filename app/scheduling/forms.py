"""Scheduling forms. Staff forms are in English; the guardian's reminder switch is translated."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.scheduling.models import WEEKDAYS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def weekday_choices(days=range(7)):
    return [C(d, WEEKDAYS[d]) for d in days]


MODALITY_CHOICES = [C("in_person", "In person"), C("telehealth", "Telehealth (video)")]
START_BY_CHOICES = [C("time", "At a time of day"), C("period", "During a class period")]
PARTY_CHOICES = [C("therapist", "The therapist"), C("student", "The student"),
                 C("guardian", "A guardian"), C("school", "The school")]
ATTENDANCE_LABELS = {
    "attended": "Attended",
    "no_show": "No-show",
    "cancelled_student": "Cancelled by the student",
    "cancelled_guardian": "Cancelled by a guardian",
    "cancelled_therapist": "Cancelled by the therapist",
    "cancelled_school": "Cancelled by the school",
}


class _WhenMixin:
    start_by = RadioField("Start", choices=START_BY_CHOICES, default="time")
    start_time = TimeField("Start time", validators=[Optional()])
    period = SelectField("Class period", choices=[], validate_choice=False, validators=[Optional()])
    duration = IntegerField("Length in minutes", validators=[Optional(), NumberRange(min=5, max=240)])


class BookingForm(_WhenMixin, FlaskForm):
    student = SelectField("Student", coerce=int, choices=[],
                          validators=[DataRequired(message="Choose a student.")])
    first_date = DateField("Date", validators=[DataRequired(message="Choose a date.")])
    modality = RadioField("How the session happens", choices=MODALITY_CHOICES, default="in_person")
    repeat = RadioField("Repeats", default="none", choices=[
        C("none", "Does not repeat"), C("weekly", "Every week"), C("biweekly", "Every other week")])
    ends = RadioField("The series ends", default="count", choices=[
        C("count", "After a number of sessions"), C("until", "On a date")])
    occurrences = IntegerField("Number of sessions", validators=[Optional(), NumberRange(min=2, max=60)])
    until = DateField("Last date", validators=[Optional()])
    skip_conflicts = BooleanField("Leave out dates with a conflict and book the others")


class RescheduleForm(_WhenMixin, FlaskForm):
    new_date = DateField("New date", validators=[DataRequired(message="Choose a date.")])
    modality = RadioField("How the session happens", choices=MODALITY_CHOICES)
    # Distinct ids: the move and cancel forms share a page, and labels point at ids.
    reason = StringField("Reason (no clinical details)", id="move-reason", validators=[
        DataRequired(message="Give a short reason."), Length(min=3, max=300)])


class CancelForm(FlaskForm):
    party = SelectField("Who cancelled", choices=PARTY_CHOICES, default="therapist")
    reason = StringField("Reason (no clinical details)", id="cancel-reason", validators=[
        DataRequired(message="Give a short reason."), Length(min=3, max=300)])


class AttendanceForm(FlaskForm):
    attendance = RadioField("What happened", choices=[C(k, v) for k, v in ATTENDANCE_LABELS.items()],
                            validators=[DataRequired(message="Choose what happened.")])
    minutes = IntegerField("Minutes delivered", validators=[Optional(), NumberRange(min=0, max=240)])


class AvailabilityForm(FlaskForm):
    school = SelectField("School", coerce=int, choices=[])
    weekdays = MultiCheckboxField("Days", coerce=int, choices=weekday_choices(range(5)), default=[0, 1, 2, 3, 4],
                                  validators=[DataRequired(message="Choose at least one day.")])
    starts = TimeField("From", validators=[DataRequired(message="Enter a start time.")])
    ends = TimeField("To", validators=[DataRequired(message="Enter an end time.")])


class TimeOffForm(FlaskForm):
    first = DateField("First day", validators=[DataRequired(message="Choose the first day.")])
    last = DateField("Last day (if more than one)", validators=[Optional()])
    starts = TimeField("From (leave empty for the whole day)", validators=[Optional()])
    ends = TimeField("To (leave empty for the whole day)", validators=[Optional()])
    label = StringField("Label (optional, e.g. “Training”)", validators=[Optional(), Length(max=80)])


class BellScheduleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(message="Give the schedule a name."), Length(max=80)],
                       render_kw={"placeholder": "Minimum day"})
    copy_from = SelectField("Start from", coerce=int, choices=[])


class PeriodForm(FlaskForm):
    name = StringField("Period name", validators=[DataRequired(message="Give the period a name."), Length(max=40)],
                       render_kw={"placeholder": "Period 3"})
    weekdays = MultiCheckboxField("Days", coerce=int, choices=weekday_choices(), default=[0, 1, 2, 3, 4],
                                  validators=[DataRequired(message="Choose at least one day.")])
    starts = TimeField("Starts", validators=[DataRequired(message="Enter a start time.")])
    ends = TimeField("Ends", validators=[DataRequired(message="Enter an end time.")])


class CalendarDaysForm(FlaskForm):
    first = DateField("Date (or first date)", validators=[DataRequired(message="Choose a date.")])
    last = DateField("Last date (for a range)", validators=[Optional()])
    what = SelectField("What happens", choices=[])
    label = StringField("Label (e.g. “Thanksgiving”)", validators=[Optional(), Length(max=80)])


class TeacherContactForm(FlaskForm):
    period = SelectField("Class period", choices=[], validators=[DataRequired(message="Choose a period.")])
    teacher_email = EmailField("Teacher's email", validators=[
        DataRequired(message="Enter the teacher's email."), Email(message="Enter a valid email address."),
        Length(max=254)])


class ReminderPreferenceForm(FlaskForm):
    enabled = BooleanField(_l("Email me a reminder the day before each session"))
