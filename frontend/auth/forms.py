from __future__ import annotations

from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired

from frontend.forms import Form


class LoginForm(Form):
    email = StringField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    next = HiddenField()
