from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice as C
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.consent.models import SCOPES

SCOPE_LABELS = {
    "video_sessions": _l("Video sessions with the school counselor or therapist"),
    "games": _l("Simple games during sessions"),
    "mood_checkins": _l("Mood check-ins (your child picks a feeling face; it is saved)"),
    "share_with_school_staff": _l("Sharing general progress with school staff who support your child"),
}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RequestConsentForm(FlaskForm):
    scopes = MultiCheckboxField("Ask consent for", choices=[C(s, SCOPE_LABELS[s]) for s in SCOPES],
                                validators=[DataRequired(message="Choose at least one.")])
    expires_on = DateField("Consent ends on", validators=[Optional()])
    policy = SelectField("Who must sign", choices=[C("any", "One guardian with legal authority"),
                                                   C("all", "Every guardian with legal authority")])


class SignConsentForm(FlaskForm):
    decision = RadioField(_l("Your decision"), choices=[C("signed", _l("I give consent as chosen below")),
                                                        C("declined", _l("I do not give consent"))],
                          validators=[DataRequired(message=_l("Choose whether you give consent."))])
    typed_name = StringField(_l("Type your full name"), validators=[DataRequired(message=_l("Type your full name.")),
                                                                     Length(min=2, max=200)],
                             render_kw={"autocomplete": "name"})
    confirm = BooleanField(_l("I am this student's parent or legal guardian."))
    drawn_signature = HiddenField()
    decline_reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=1000)])


class RevokeConsentForm(FlaskForm):
    scopes = MultiCheckboxField(_l("Withdraw consent for"), choices=[C(s, SCOPE_LABELS[s]) for s in SCOPES],
                                validators=[DataRequired(message=_l("Choose what to withdraw."))])


class TemplateForm(FlaskForm):
    title_en = StringField("Title (English)", validators=[DataRequired(), Length(max=200)])
    body_en = TextAreaField("Form text (English)", validators=[DataRequired(), Length(max=20000)],
                            render_kw={"rows": 14})
    title_es = StringField("Title (Spanish)", validators=[DataRequired(), Length(max=200)])
    body_es = TextAreaField("Form text (Spanish)", validators=[DataRequired(), Length(max=20000)],
                            render_kw={"rows": 14})
    scopes = MultiCheckboxField("This form asks consent for", choices=[C(s, SCOPE_LABELS[s]) for s in SCOPES],
                                validators=[DataRequired()])
