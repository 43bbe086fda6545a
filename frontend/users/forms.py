from __future__ import annotations

from typing import Any

from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from dtbase.core.settings import MIN_PASSWORD_LENGTH
from dtbase.schemas.users import EMAIL_LENGTH, PASSWORD_LENGTH, Role
from frontend.forms import Form, email_address

NEW_PASSWORD = [
    DataRequired(),
    Length(
        min=MIN_PASSWORD_LENGTH,
        message=f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
    ),
    Length(max=PASSWORD_LENGTH),
]
# Plain values (WTForms 3.3 deprecates tuples); types-WTForms 3.2 predates them, hence Any.
ROLE_CHOICES: Any = [role.value for role in Role]


class CreateUserForm(Form):
    email = StringField(
        "Email", validators=[DataRequired(), Length(max=EMAIL_LENGTH), email_address]
    )
    password = PasswordField("Password", validators=NEW_PASSWORD)
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.user.value)


class DeleteUserForm(Form):
    email = HiddenField("Email", validators=[DataRequired()])


class SetRoleForm(Form):
    email = HiddenField("Email", validators=[DataRequired()])
    role = SelectField("Role", choices=ROLE_CHOICES)


class ChangePasswordForm(Form):
    password = PasswordField("New password", validators=NEW_PASSWORD)
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired(),
            Length(max=PASSWORD_LENGTH),
            EqualTo("password", message="The passwords differ."),
        ],
    )
