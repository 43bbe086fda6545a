"""Log in and out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import ApiError
from frontend.auth import session as user_session
from frontend.auth.forms import LoginForm
from frontend.backend import anonymous_client, backend

bp = Blueprint("auth", __name__, template_folder="templates")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    target = user_session.safe_next(form.next.data) or url_for("home.index")
    if user_session.current_or_none() is not None:
        return redirect(target)
    if form.validate_on_submit():
        email = str(form.email.data).strip()
        client = anonymous_client()
        try:
            tokens = client.login(email, str(form.password.data), on_behalf_of=request.remote_addr)
        except ApiError as error:
            if error.status_code not in (401, 422):
                raise
            flash("Incorrect email or password.", "error")
        else:
            # The account's own spelling of the email (a login may use another case).
            me = client.users.me()
            user_session.start(me.email, me.role, tokens)
            return redirect(target)
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@user_session.login_required
def logout() -> ResponseReturnValue:
    # A POST, so its CSRF token is checked: no other site can log the user out.
    try:
        # The session's tokens end at the backend too: a copy of this cookie is useless.
        backend().logout()
    except ApiError as error:
        if error.status_code != 401:  # 401: they had ended already
            raise
    user_session.end()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
