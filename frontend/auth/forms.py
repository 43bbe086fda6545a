from __future__ import annotations

from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from dtbase.schemas.users import EMAIL_LENGTH, PASSWORD_LENGTH
from frontend.forms import Form


class LoginForm(Form):
    email = StringField("Email", validators=[DataRequired(), Length(max=EMAIL_LENGTH)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_LENGTH)])
    next = HiddenField()
