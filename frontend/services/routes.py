"""The services area: services, their parameter sets, run now, schedules, event triggers
and the run log.

The backend decides who may do what (registering, changing and deleting a service needs an
admin; parameter sets, runs and schedules a user); every refusal is a flash with its
reason. A run the service did not answer with success is shown as failed, with the
service's own message."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from wtforms import SelectChoice  # type: ignore[attr-defined]  # stubs predate 3.3

from dtbase.client import ApiError, describe
from dtbase.schemas.services import HttpMethod, ParameterSet, RunOutcome, ServiceRunDetails
from frontend.auth import session as user_session
from frontend.backend import backend, flashing_errors
from frontend.forms import form_to_show, show_again, valid_or_flashed
from frontend.services.forms import (
    DeleteParameterSetForm,
    ParameterSetForm,
    RegisterServiceForm,
    RunServiceForm,
    ScheduleForm,
    ScheduleNameForm,
    ServiceForm,
    TriggerForm,
    TriggerNameForm,
    describe_interval,
    parsed,
)

bp = Blueprint("services", __name__, template_folder="templates")

# run-service answers these when the service failed; the run is logged all the same.
SERVICE_FAILED = (502, 504)


@bp.route("/services/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    return _index_page()


def _index_page() -> str:
    return render_template(
        "services/index.html",
        services=backend().services.list_services(),
        register_form=form_to_show(RegisterServiceForm),
    )


@bp.route("/services/register", methods=["POST"])
@user_session.login_required
def register() -> ResponseReturnValue:
    form = RegisterServiceForm()
    if valid_or_flashed(form):
        name = str(form.name.data).strip()
        with flashing_errors():
            backend().services.insert_service(
                name, str(form.url.data).strip(), HttpMethod(form.http_method.data)
            )
            flash(f"Service {name} registered.", "success")
            return redirect(url_for("services.index"))
    return show_again(form, _index_page)


@bp.route("/services/delete", methods=["POST"])
@user_session.login_required
def delete() -> ResponseReturnValue:
    form = ServiceForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().services.delete_service(str(form.service.data))
            flash(f"Service {form.service.data} deleted.", "success")
    return redirect(url_for("services.index"))


@bp.route("/services/service/<path:name>")
@user_session.login_required
def service(name: str) -> ResponseReturnValue:
    return _service_page(name)


def _service_page(name: str) -> str:
    client = backend()
    found = next((s for s in client.services.list_services() if s.name == name), None)
    if found is None:
        abort(404)
    parameter_sets = client.services.list_parameter_sets(name)
    runs = newest_first(client.services.list_runs_details(name))
    run_form = form_to_show(RunServiceForm, service=name)
    schedule_form = form_to_show(ScheduleForm, service=name)
    schedule_form.parameter_set.choices = _parameter_set_choices(parameter_sets)
    trigger_form = form_to_show(TriggerForm, service=name)
    trigger_form.parameter_set.choices = _parameter_set_choices(parameter_sets)
    return render_template(
        "services/service.html",
        service=found,
        parameter_sets=parameter_sets,
        runs=runs,
        schedules=client.services.list_schedules(name),
        new_set_form=form_to_show(
            ParameterSetForm,
            endpoint="services.create_parameter_set",
            service=name,
            parameters="{}",
        ),
        run_form=run_form,
        schedule_form=schedule_form,
        triggers=client.triggers.list_triggers(name),
        trigger_form=trigger_form,
        time_zones=time_zones(),
        describe_interval=describe_interval,
    )


@bp.route("/services/parameter-sets/create", methods=["POST"])
@user_session.login_required
def create_parameter_set() -> ResponseReturnValue:
    form = ParameterSetForm()
    if valid_or_flashed(form):
        name = str(form.name.data).strip()
        with flashing_errors():
            backend().services.insert_parameter_set(
                str(form.service.data), name, parsed(form.parameters) or {}
            )
            flash(f"Parameter set {name} saved.", "success")
            return _back(form)
    return _again(form)


@bp.route("/services/parameter-sets/edit", methods=["POST"])
@user_session.login_required
def edit_parameter_set() -> ResponseReturnValue:
    form = ParameterSetForm()
    if valid_or_flashed(form):
        name = str(form.name.data).strip()
        with flashing_errors():
            backend().services.edit_parameter_set(
                str(form.service.data), name, parsed(form.parameters) or {}
            )
            flash(f"Parameter set {name} changed.", "success")
            return _back(form)
    return _again(form)


@bp.route("/services/parameter-sets/delete", methods=["POST"])
@user_session.login_required
def delete_parameter_set() -> ResponseReturnValue:
    form = DeleteParameterSetForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().services.delete_parameter_set(str(form.service.data), str(form.name.data))
            flash(f"Parameter set {form.name.data} deleted.", "success")
    return _back(form)


@bp.route("/services/run", methods=["POST"])
@user_session.login_required
def run() -> ResponseReturnValue:
    form = RunServiceForm()
    if valid_or_flashed(form):
        service_name = str(form.service.data)
        parameter_set = str(form.parameter_set.data or "") or None
        with flashing_errors():
            try:
                answer = backend().services.run_service(
                    service_name,
                    parameter_set_name=parameter_set,
                    parameters=parsed(form.parameters),
                )
            except ApiError as error:
                if error.status_code not in SERVICE_FAILED:
                    raise
                flash(
                    f"{service_name} failed: {describe(error.detail)} (see the run log).", "error"
                )
            else:
                _flash_outcome(service_name, answer)
            # Run, whatever the service answered: the run log has it.
            return _back(form)
    return _again(form)


def _flash_outcome(service_name: str, answer: RunOutcome) -> None:
    """A run the service answered: success only if it answered 2xx (DTBase's detail says
    "called successfully" whatever the service answered)."""
    code = answer.response_status_code
    if answer.succeeded:
        flash(f"{service_name} ran: the service answered {code}.", "success")
        return
    flash(
        f"{service_name} failed: the service answered {code}: {service_message(answer)} "
        "(see the run log).",
        "error",
    )


# Where services put their own message in a JSON reply, most telling first.
MESSAGE_KEYS = ("detail", "error", "message", "errors")
MESSAGE_LENGTH = 300


def service_message(answer: RunOutcome) -> str:
    """The service's own message: a message field of its JSON reply, else the reply, else
    why the run failed."""
    reply = answer.response_json
    if isinstance(reply, dict):
        found = next((reply[key] for key in MESSAGE_KEYS if reply.get(key)), None)
        if found is not None:
            reply = found
    if reply is None:
        return answer.error or "no JSON reply"
    text = describe(reply) if isinstance(reply, str | list) else json.dumps(reply)
    return text if len(text) <= MESSAGE_LENGTH else text[: MESSAGE_LENGTH - 1] + "…"


@bp.route("/services/schedules/create", methods=["POST"])
@user_session.login_required
def create_schedule() -> ResponseReturnValue:
    form = ScheduleForm()
    if valid_or_flashed(form):
        name = str(form.name.data).strip()
        with flashing_errors():
            backend().services.insert_schedule(
                str(form.service.data),
                name,
                **form.timing(),
                time_zone=str(form.time_zone.data).strip(),
                parameter_set_name=str(form.parameter_set.data or "") or None,
                parameters=parsed(form.parameters),
                enabled=bool(form.enabled.data),
            )
            flash(f"Schedule {name} created.", "success")
            return _back(form)
    return _again(form)


@bp.route("/services/schedules/enable", methods=["POST"])
@user_session.login_required
def enable_schedule() -> ResponseReturnValue:
    return _set_enabled(ScheduleNameForm(), enabled=True)


@bp.route("/services/schedules/disable", methods=["POST"])
@user_session.login_required
def disable_schedule() -> ResponseReturnValue:
    return _set_enabled(ScheduleNameForm(), enabled=False)


@bp.route("/services/schedules/delete", methods=["POST"])
@user_session.login_required
def delete_schedule() -> ResponseReturnValue:
    form = ScheduleNameForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().services.delete_schedule(str(form.service.data), str(form.name.data))
            flash(f"Schedule {form.name.data} deleted.", "success")
    return _back(form)


def _set_enabled(form: ScheduleNameForm, *, enabled: bool) -> ResponseReturnValue:
    if valid_or_flashed(form):
        with flashing_errors():
            backend().services.edit_schedule(
                str(form.service.data), str(form.name.data), enabled=enabled
            )
            flash(f"Schedule {form.name.data} {'enabled' if enabled else 'disabled'}.", "success")
    return _back(form)


@bp.route("/services/triggers/create", methods=["POST"])
@user_session.login_required
def create_trigger() -> ResponseReturnValue:
    form = TriggerForm()
    if valid_or_flashed(form):
        name = str(form.name.data).strip()
        with flashing_errors():
            backend().triggers.create_trigger(
                name,
                str(form.service.data),
                parsed(form.query) or {},
                parameter_set_name=str(form.parameter_set.data or "") or None,
                parameters=parsed(form.parameters),
                debounce_seconds=float(form.debounce_seconds.data or 0),
                enabled=bool(form.enabled.data),
            )
            flash(f"Trigger {name} created.", "success")
            return _back(form)
    return _again(form)


@bp.route("/services/triggers/enable", methods=["POST"])
@user_session.login_required
def enable_trigger() -> ResponseReturnValue:
    return _set_trigger_enabled(TriggerNameForm(), enabled=True)


@bp.route("/services/triggers/disable", methods=["POST"])
@user_session.login_required
def disable_trigger() -> ResponseReturnValue:
    return _set_trigger_enabled(TriggerNameForm(), enabled=False)


@bp.route("/services/triggers/delete", methods=["POST"])
@user_session.login_required
def delete_trigger() -> ResponseReturnValue:
    form = TriggerNameForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().triggers.delete_trigger(str(form.name.data))
            flash(f"Trigger {form.name.data} deleted.", "success")
    return _back(form)


def _set_trigger_enabled(form: TriggerNameForm, *, enabled: bool) -> ResponseReturnValue:
    if valid_or_flashed(form):
        with flashing_errors():
            triggers = backend().triggers
            (triggers.enable_trigger if enabled else triggers.disable_trigger)(str(form.name.data))
            flash(f"Trigger {form.name.data} {'enabled' if enabled else 'disabled'}.", "success")
    return _back(form)


def _parameter_set_choices(parameter_sets: list[ParameterSet]) -> Any:
    return [SelectChoice("", "No parameter set")] + [SelectChoice(p.name) for p in parameter_sets]


@cache
def time_zones() -> list[str]:
    """The IANA names the backend knows too (both read the same tz database)."""
    return sorted(available_timezones())


def newest_first(runs: list[ServiceRunDetails]) -> list[ServiceRunDetails]:
    return sorted(runs, key=lambda run: (run.timestamp, run.id), reverse=True)


def _again(
    form: ParameterSetForm | RunServiceForm | ScheduleForm | TriggerForm,
) -> ResponseReturnValue:
    """The service's page again, the failed form holding what was typed."""
    name = str(form.service.data or "")
    if not name:
        return _back(form)
    return show_again(form, lambda: _service_page(name))


def _back(
    form: ParameterSetForm
    | DeleteParameterSetForm
    | RunServiceForm
    | ScheduleForm
    | ScheduleNameForm
    | TriggerForm
    | TriggerNameForm,
) -> ResponseReturnValue:
    name = str(form.service.data or "")
    if not name:
        return redirect(url_for("services.index"))
    return redirect(url_for("services.service", name=name))
