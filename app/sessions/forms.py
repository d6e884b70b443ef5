from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length


class JoinCodeForm(FlaskForm):
    code = StringField(
        "Your code",
        validators=[DataRequired(message="Type the code your counselor gave you."), Length(max=16)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                   "maxlength": "16", "inputmode": "text"},
    )


class AssentForm(FlaskForm):
    choice = HiddenField()


class AdmitForm(FlaskForm):
    grant_id = HiddenField(validators=[DataRequired()])
