"""Wire models of /events/triggers: service runs started by events (docs/events.md,
"Triggers").

A trigger names an event query, a service and what to send it: a parameter set, or a
parameters template whose strings may hold `{sensor}`, `{model}`, `{first}`... filled
from each event's metadata. A burst of matching events is run once, per distinct filled
parameter set, after `debounce_seconds` without a new matching event (or once the burst
is `max_wait_seconds` old).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from dtbase.schemas.common import UtcDatetime
from dtbase.schemas.events import EventQuery
from dtbase.schemas.services import Key, NewKey

# A day: a longer quiet time before a run is almost certainly a mistake in the unit.
MAX_DEBOUNCE_SECONDS = 24 * 3600
MAX_WAIT_SECONDS = 7 * 24 * 3600
# Without `max_wait_seconds`, a burst that never goes quiet runs after this many debounces.
DEFAULT_MAX_WAIT_DEBOUNCES = 10
MAX_RUNS_PER_HOUR = 100_000

DEBOUNCE_DESCRIPTION = (
    "Seconds without a new matching event before the burst is run (0: at the next look)."
)
MAX_WAIT_DESCRIPTION = (
    "A burst that never goes quiet still runs once it is this old (seconds since its first "
    f"event; default {DEFAULT_MAX_WAIT_DEBOUNCES} x debounce_seconds; at least "
    "debounce_seconds)."
)
MAX_RUNS_DESCRIPTION = (
    "The loop guard: a trigger that would start more runs than this within an hour is "
    "disabled, with the reason (default DT_TRIGGER_MAX_RUNS_PER_HOUR)."
)
PARAMETERS_DESCRIPTION = (
    "A parameters template, sent as the JSON body: in its string values (not its keys) "
    "`{key}` is replaced by the event's metadata value (`{{` and `}}` are literal braces). "
    "A string that is just one `{key}` takes the value as it is (a list stays a list, a "
    "number a number); inside longer text a list is joined with commas and null is empty. "
    "In a burst, `{first}` is the earliest first, `{last}` the latest last and `{count}` "
    "the sum. Or a parameter set; not both. Neither: no body."
)


class CreateTriggerRequest(BaseModel):
    name: NewKey
    service_name: Key
    query: EventQuery = Field(description="The events that start runs (see /events/list).")
    parameter_set_name: Key | None = Field(
        default=None, description="Run with this parameter set's parameters."
    )
    parameters: dict[str, Any] | list[Any] | None = Field(
        default=None, description=PARAMETERS_DESCRIPTION
    )
    debounce_seconds: float = Field(
        default=10.0, ge=0, le=MAX_DEBOUNCE_SECONDS, description=DEBOUNCE_DESCRIPTION
    )
    max_wait_seconds: float | None = Field(
        default=None, ge=0, le=MAX_WAIT_SECONDS, description=MAX_WAIT_DESCRIPTION
    )
    max_runs_per_hour: int | None = Field(
        default=None, ge=1, le=MAX_RUNS_PER_HOUR, description=MAX_RUNS_DESCRIPTION
    )
    enabled: bool = True


class EditTriggerRequest(BaseModel):
    """Change a trigger; fields left out keep their value. Giving `parameter_set_name`
    replaces `parameters` and the reverse; an explicit null clears one. A change of the
    query, the parameters or the parameter set drops the burst waiting to run."""

    name: Key = Field(description="The trigger to change.")
    new_name: NewKey | None = None
    query: EventQuery | None = None
    parameter_set_name: Key | None = None
    parameters: dict[str, Any] | list[Any] | None = Field(
        default=None, description=PARAMETERS_DESCRIPTION
    )
    debounce_seconds: float | None = Field(
        default=None, ge=0, le=MAX_DEBOUNCE_SECONDS, description=DEBOUNCE_DESCRIPTION
    )
    max_wait_seconds: float | None = Field(
        default=None, ge=0, le=MAX_WAIT_SECONDS, description=MAX_WAIT_DESCRIPTION
    )
    max_runs_per_hour: int | None = Field(
        default=None, ge=1, le=MAX_RUNS_PER_HOUR, description=MAX_RUNS_DESCRIPTION
    )


class TriggerName(BaseModel):
    """Names one trigger (enable, disable, delete)."""

    name: Key


class ListTriggersRequest(BaseModel):
    service_name: Key | None = None


class Trigger(BaseModel):
    name: str
    service_name: str
    query: dict[str, Any] = Field(description="The event query, as given (fields left out: any).")
    parameter_set_name: str | None
    parameters: Any = Field(description="The parameters template, or null.")
    debounce_seconds: float
    max_wait_seconds: float
    max_runs_per_hour: int
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why the backend disabled it (the loop guard), or null."
    )
    last_event_id: int = Field(description="The last event considered (the trigger's cursor).")
    burst_started_at: UtcDatetime | None = Field(
        description="The first event of the burst waiting to run, or null when none waits."
    )
    burst_last_event_at: UtcDatetime | None
    pending_events: int = Field(description="Matching events in the burst waiting to run.")
    pending_runs: int = Field(description="Runs the burst will start (distinct parameters).")
    last_run_id: int | None = Field(description="The last run it started (list-runs-details).")
    last_run_at: UtcDatetime | None
    time_created: UtcDatetime
