"""The users area. The backend decides who may do what; the page shows admins the admin
tools, and reports the backend's answer to every action as a flash. A form that fails
comes back with what was typed, passwords excepted."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from dtbase.schemas.users import Role
from frontend.auth import session as user_session
from frontend.auth.roles import users_and_role
from frontend.backend import backend, flashing_errors
from frontend.forms import form_to_show, show_again, valid_or_flashed
from frontend.users.forms import ChangePasswordForm, CreateUserForm, DeleteUserForm, SetRoleForm

bp = Blueprint("users", __name__, template_folder="templates")


@bp.route("/users/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    return _index_page()


def _index_page() -> str:
    email = user_session.current().email
    # The session's role follows the backend's answer, so a user made admin (or no longer
    # admin) sees the right page without logging in again.
    users, role = users_and_role(backend())
    user_session.set_role(role)
    return render_template(
        "users/index.html",
        email=email,
        role=role,
        users=users,
        create_form=form_to_show(CreateUserForm),
        password_form=form_to_show(ChangePasswordForm),
        roles=[choice.value for choice in Role],
    )


@bp.route("/users/create", methods=["POST"])
@user_session.login_required
def create() -> ResponseReturnValue:
    form = CreateUserForm()
    if valid_or_flashed(form):
        with flashing_errors():
            role = Role(form.role.data)
            backend().users.create_user(str(form.email.data).strip(), str(form.password.data), role)
            flash(f"User {str(form.email.data).strip()} created ({role}).", "success")
            return redirect(url_for("users.index"))
    return show_again(form, _index_page)


@bp.route("/users/delete", methods=["POST"])
@user_session.login_required
def delete() -> ResponseReturnValue:
    form = DeleteUserForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().users.delete_user(str(form.email.data))
            flash(f"User {form.email.data} deleted.", "success")
    return redirect(url_for("users.index"))


@bp.route("/users/set-role", methods=["POST"])
@user_session.login_required
def set_role() -> ResponseReturnValue:
    form = SetRoleForm()
    if valid_or_flashed(form):
        with flashing_errors():
            role = Role(form.role.data)
            backend().users.set_role(str(form.email.data), role)
            flash(f"{form.email.data} is now {role}.", "success")
    return redirect(url_for("users.index"))


@bp.route("/users/change-password", methods=["POST"])
@user_session.login_required
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if valid_or_flashed(form):
        with flashing_errors():
            email, password = user_session.current().email, str(form.password.data)
            backend().users.change_password(email, password)
            # The backend ended every session of the user, this one too: log in again
            # with the new password (the new tokens are saved after the request).
            backend().login(email, password)
            flash("Your password is changed.", "success")
            return redirect(url_for("users.index"))
    return show_again(form, _index_page)
