"""What every service shares: the handler type, parameter errors and HTTP adaptation.

A handler is a plain function `(parameters: dict) -> dict`: it validates its parameters
(raising `ParameterError`, which the adapters turn into a 400 naming the field) and returns a
JSON summary with an `"ok"` key. The Azure Functions app and the local host both go through
`respond()`, so they answer alike: 200 with the summary when `ok`, 502 with the summary when
the run finished but some of its work failed (a provider or the backend refused, too little
data, ...), 400 for bad parameters, 500 for a fault in the service itself.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dtbase.sdk import ServiceRunError

logger = logging.getLogger("services")

Handler = Callable[[dict[str, Any]], dict[str, Any]]

OK = 200
BAD_REQUEST = 400
SERVER_ERROR = 500
RUN_FAILED = 502


class ParameterError(ValueError):
    """A parameter is missing or invalid: answered with 400, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": False, "detail": str(self), "field": self.field}


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, whatever the framework."""

    status_code: int
    body: dict[str, Any]

    def json_bytes(self) -> bytes:
        return json.dumps(self.body, default=str).encode()


def respond(handler: Handler, body: bytes) -> Reply:
    """Run `handler` on a raw JSON body (empty: no parameters) and shape the answer."""
    if body.strip():
        try:
            parameters = json.loads(body)
        except ValueError:
            return Reply(BAD_REQUEST, {"ok": False, "detail": "Malformed body, JSON expected"})
    else:
        parameters = {}
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        return Reply(
            BAD_REQUEST,
            {"ok": False, "detail": "The parameters must be a JSON object", "field": "body"},
        )
    try:
        summary = handler(parameters)
    except ParameterError as error:
        return Reply(BAD_REQUEST, error.to_dict())
    except Exception as error:
        logger.exception("Service failed")
        return Reply(
            SERVER_ERROR,
            {"ok": False, "detail": f"The service failed: {type(error).__name__}: {error}"},
        )
    return Reply(OK if summary.get("ok") else RUN_FAILED, summary)


def sdk_summary(run: Callable[[], Any]) -> dict[str, Any]:
    """Call a BaseService run and return its summary as a dict, whether or not it failed."""
    try:
        summary = run()
    except ServiceRunError as error:
        return error.summary.to_dict()
    except ValueError as error:  # e.g. no password configured
        return {"ok": False, "problems": [str(error)]}
    return dict(summary.to_dict())


# Parameter helpers: each raises ParameterError naming the field.


def known_keys(parameters: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(parameters) - allowed)
    if unknown:
        names = ", ".join(sorted(allowed))
        raise ParameterError(unknown[0], f"unknown parameter (allowed: {names})")


def number(
    parameters: Mapping[str, Any],
    field: str,
    *,
    default: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    value = parameters.get(field, default)
    if value is None:
        raise ParameterError(field, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ParameterError(field, f"must be a number, got {value!r}") from None
        else:
            raise ParameterError(field, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(field, "must be a finite number")
    if minimum is not None and value < minimum:
        raise ParameterError(field, f"must be at least {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ParameterError(field, f"must be at most {maximum:g}, got {value:g}")
    return value


def string(parameters: Mapping[str, Any], field: str, *, default: str | None = None) -> str:
    value = parameters.get(field, default)
    if value is None:
        raise ParameterError(field, "is required")
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(field, f"must be a non-empty string, got {value!r}")
    return value


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_time(value: Any, field: str, *, now: datetime) -> datetime:
    """A point in time: ISO 8601 (naive is UTC), Unix seconds, `"present"`/`"now"`, or
    an offset from now such as `"-12h"`, `"+2d"`, `"-30m"`, `"now-6h"`."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, bool):
        raise ParameterError(field, f"must be a time, got {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(field, f"must be a time, got {value!r}")
    text = value.strip().lower()
    if text in {"present", "now"}:
        return now
    offset = text.removeprefix("now").removeprefix("present").strip()
    if offset[:1] in {"+", "-"}:
        return now + _offset(offset, field)
    try:
        return utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        raise ParameterError(
            field, f"must be ISO 8601, 'present' or an offset like '-12h', got {value!r}"
        ) from None


_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def _offset(text: str, field: str) -> timedelta:
    sign = -1.0 if text[0] == "-" else 1.0
    body = text[1:].strip()
    unit = body[-1:]
    try:
        amount = float(body[:-1])
    except ValueError:
        amount = math.nan
    if unit not in _UNITS or not math.isfinite(amount):
        raise ParameterError(
            field, f"an offset is a number and a unit (m, h, d, w), e.g. '-12h'; got {text!r}"
        )
    return timedelta(seconds=sign * amount * _UNITS[unit])
