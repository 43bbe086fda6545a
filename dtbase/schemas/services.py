"""Wire models of the /service endpoints: services, parameter sets, schedules and runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from dtbase.schemas.common import KEY_LENGTH, NAME_LENGTH, NOT_BLANK, URL_LENGTH, UtcDatetime


class RunStatus(StrEnum):
    """A run is pending until the service answers; it succeeded if it answered 2xx (and
    its reply, if JSON, could be stored). Redirects are not followed: a 3xx fails."""

    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class HttpMethod(StrEnum):
    """How the backend calls a service: exactly one of these, upper case."""

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"


# JSON stored for services (parameters, replies) nests at most this deep: deeper values
# are refused on the way in, because reading them back fails (issue 15, item 5).
MAX_JSON_DEPTH = 32
# The largest parameters (as JSON text) that a parameter set, schedule or run may hold.
MAX_PARAMETERS_BYTES = 256 * 1024


def json_problem(value: Any, path: tuple[str | int, ...] = ()) -> JsonProblem | None:
    """Where and why `value` cannot be stored as JSON, or None when it can.

    Python's JSON parser accepts NaN, Infinity and numbers too large for a float (read as
    infinity), and strings may hold NUL or lone surrogates; PostgreSQL refuses all of them.
    Values nested deeper than MAX_JSON_DEPTH are refused too. Checked by the store rather
    than by a validator: FastAPI's 422 echoes the input, and such values cannot be written
    back as JSON.
    """
    if len(path) > MAX_JSON_DEPTH:
        return JsonProblem(path[:MAX_JSON_DEPTH], f"nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        return JsonProblem(path, "NaN and Infinity are not JSON numbers")
    if isinstance(value, str):
        problem = text_problem(value)
        return JsonProblem(path, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            # The path is sent back in the 422, so it must be writable as JSON itself.
            where = (*path, key.encode("utf-8", "backslashreplace").decode("utf-8"))
            found = json_problem(key, where) or json_problem(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = json_problem(item, (*path, index))
            if found:
                return found
    return None


@dataclass(frozen=True)
class JsonProblem:
    path: tuple[str | int, ...]
    message: str


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "text cannot contain the NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text cannot contain unpaired surrogates"
    return None


def _storable_text(text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


# Text that PostgreSQL accepts: anything else is a 422, never a 500.
STORABLE = AfterValidator(_storable_text)
Text = Annotated[str, STORABLE]
# Bounded texts: a length given before a validator is pydantic's own string check (its
# 422 says "String should have at most N characters"); after, a generic one.
# The name of a service, parameter set, schedule or trigger (in an index: KEY_LENGTH).
Key = Annotated[str, Field(max_length=KEY_LENGTH), STORABLE]
NewKey = Annotated[Key, NOT_BLANK]
Url = Annotated[str, Field(max_length=URL_LENGTH), STORABLE]
# A cron expression or a time zone: not in an index, but each no longer than this.
Setting = Annotated[str, Field(max_length=NAME_LENGTH), STORABLE]


class InsertServiceRequest(BaseModel):
    name: NewKey
    url: Url = Field(
        description="http or https, on a host the backend's DT_SERVICE_URL_ALLOWLIST allows; "
        "put an Azure Function key in it (`?code=`; shown to admins only)."
    )
    http_method: HttpMethod


class EditServiceRequest(BaseModel):
    """Change a service; the fields left out (or null) keep their value."""

    name: Key = Field(description="The service to change.")
    new_name: NewKey | None = None
    url: Url | None = None
    http_method: HttpMethod | None = None


class DeleteServiceRequest(BaseModel):
    name: Key


class ServiceDetails(BaseModel):
    name: str
    url: str
    http_method: HttpMethod


class InsertParameterSetRequest(BaseModel):
    service_name: Key
    name: NewKey
    parameters: dict[str, Any]


class EditParameterSetRequest(BaseModel):
    service_name: Key
    name: Key
    parameters: dict[str, Any] = Field(description="Replaces the stored parameters completely.")


class DeleteParameterSetRequest(BaseModel):
    service_name: Key
    name: Key


class ListParameterSetsRequest(BaseModel):
    service_name: Text | None = None


class ParameterSet(BaseModel):
    service_name: str
    name: str
    parameters: dict[str, Any]


class CallServiceRequest(BaseModel):
    service_name: Key
    parameter_set_name: Key | None = Field(
        default=None, description="A stored parameter set; the run is attributed to it."
    )
    parameters: dict[str, Any] | list[Any] | None = Field(
        default=None,
        description="Sent as the JSON body; wins over the parameter set's when both are given.",
    )
    wait: bool = Field(
        default=True,
        description="false: answer 202 at once with the run's id; the run is logged as "
        "pending and completed when the service answers (dtbase only).",
    )


class RunOutcome(BaseModel):
    """What run-service answers once the call is over: DTBase's `detail`, plus (dtbase
    only) the run's id and what the service answered. The HTTP status of the answer is
    200 whenever the service answered, whatever it answered (DTBase's contract); 502 or 504
    when it could not be reached or timed out."""

    detail: str
    run_id: int | None = Field(default=None, description="The run in the log (list-runs-details).")
    response_status_code: int | None = Field(
        default=None, description="The service's status; 502 or 504 if it did not answer."
    )
    response_json: Any = Field(default=None, description="The service's JSON reply, if any.")
    status: RunStatus | None = Field(
        default=None, description="succeeded on a 2xx answer; failed otherwise."
    )
    error: str | None = Field(
        default=None, description="Why the run failed, when not by the service's own answer."
    )

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.succeeded


class RunStarted(BaseModel):
    """The 202 answer of run-service with `"wait": false`."""

    detail: str
    run_id: int


class ListRunsRequest(BaseModel):
    service_name: Text | None = None
    parameter_set_name: Text | None = Field(
        default=None, description="Only together with `service_name`."
    )

    @field_validator("parameter_set_name")
    @classmethod
    def _needs_service_name(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is not None and info.data.get("service_name") is None:
            raise ValueError("parameter_set_name can only be given with service_name")
        return name


class ServiceRun(BaseModel):
    """One call of a service, as DTBase lists it."""

    service_name: str
    parameter_set_name: str | None
    parameters: Any = Field(description="The JSON actually sent (object or array), or null.")
    response_json: Any = Field(description="The service's reply if it was JSON, else null.")
    response_status_code: int | None = Field(
        description="The service's status; 502 if it could not be reached, 504 on timeout; "
        "null while the run is pending."
    )
    timestamp: UtcDatetime


class ServiceRunDetails(ServiceRun):
    id: int
    error: str | None = Field(
        description="Why the run failed, when not by the service's own answer: the service "
        "could not be reached or did not answer in time, its URL is not allowed, or its "
        "reply could not be stored."
    )
    duration_seconds: float | None
    status: RunStatus = Field(
        description="pending until the service answers; succeeded on a 2xx answer; "
        "failed otherwise."
    )
    schedule_name: str | None = Field(
        default=None, description="The schedule that started the run, if one did."
    )
    trigger_name: str | None = Field(
        default=None, description="The event trigger that started the run, if one did."
    )
    trigger_event_ids: list[int] | None = Field(
        default=None,
        description="The events of the trigger's burst that made this run (the first 100).",
    )


# --- schedules -----------------------------------------------------------------------

CRON_DESCRIPTION = (
    "Five fields (minute hour day-of-month month day-of-week), read in `time_zone`; "
    "exactly one of `cron` and `interval_seconds`."
)
INTERVAL_DESCRIPTION = "Seconds between runs; exactly one of `cron` and `interval_seconds`."
# A year and a day: longer intervals are almost certainly a mistake in the unit.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600


class InsertScheduleRequest(BaseModel):
    service_name: Key
    name: NewKey
    cron: Setting | None = Field(default=None, description=CRON_DESCRIPTION)
    interval_seconds: int | None = Field(
        default=None, ge=1, le=MAX_INTERVAL_SECONDS, description=INTERVAL_DESCRIPTION
    )
    time_zone: Setting = Field(default="UTC", description="An IANA name, e.g. `Europe/London`.")
    parameter_set_name: Key | None = Field(
        default=None, description="Run with this parameter set's parameters."
    )
    parameters: dict[str, Any] | list[Any] | None = Field(
        default=None, description="Or explicit parameters; not both. Neither: no body."
    )
    enabled: bool = True
    start_at: UtcDatetime | None = Field(
        default=None,
        description="Interval schedules only: the first run (default: one interval from now). "
        "Later runs keep its phase.",
    )


class EditScheduleRequest(BaseModel):
    """Change a schedule; fields left out keep their value.

    Giving `cron` replaces `interval_seconds` and the reverse; giving `parameter_set_name`
    replaces `parameters` and the reverse; an explicit null clears a field.
    """

    service_name: Key
    name: Key = Field(description="The schedule to change.")
    new_name: NewKey | None = None
    cron: Setting | None = Field(default=None, description=CRON_DESCRIPTION)
    interval_seconds: int | None = Field(
        default=None, ge=1, le=MAX_INTERVAL_SECONDS, description=INTERVAL_DESCRIPTION
    )
    time_zone: Setting | None = None
    parameter_set_name: Key | None = None
    parameters: dict[str, Any] | list[Any] | None = None
    enabled: bool | None = Field(default=None, description="false disables, true enables.")
    start_at: UtcDatetime | None = Field(
        default=None, description="Interval schedules only: the next run."
    )


class DeleteScheduleRequest(BaseModel):
    service_name: Key
    name: Key


class ListSchedulesRequest(BaseModel):
    service_name: Text | None = None


class Schedule(BaseModel):
    service_name: str
    name: str
    cron: str | None
    interval_seconds: int | None
    time_zone: str
    parameter_set_name: str | None
    parameters: Any = Field(description="Explicit parameters, or null.")
    enabled: bool
    next_run_at: UtcDatetime | None = Field(
        description="When the scheduler runs it next; null while disabled or when it never "
        "fires again."
    )
    last_run_at: UtcDatetime | None
