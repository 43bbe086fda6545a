"""The outbound call of run-service: one HTTP request to a registered service.

As in DTBase, the parameters (object or array) are the JSON body, whatever the method;
without parameters there is neither a body nor a content-type. No credentials are
forwarded. Unlike DTBase there is a timeout, and failures are reported, not raised, so that
the caller can log them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from dtbase.schemas.services import json_problem

BAD_GATEWAY = 502
GATEWAY_TIMEOUT = 504


@dataclass(frozen=True)
class CallOutcome:
    """What a call produced: the service's status and JSON reply, or why it failed."""

    status_code: int
    response_json: Any
    error: str | None
    duration_seconds: float
    detail: str = "Service called successfully."


def call_service(
    *,
    method: str,
    url: str,
    parameters: Any,
    timeout_seconds: float,
) -> CallOutcome:
    """Send one request; `parameters` None means no body. Never raises for network errors."""
    started = time.perf_counter()
    try:
        # Redirects are followed, as DTBase's `requests` did.
        with httpx.Client(timeout=timeout_seconds, follow_redirects=True) as http:
            if parameters is None:
                response = http.request(method, url)
            else:
                response = http.request(method, url, json=parameters)
    except httpx.TimeoutException as error:
        return _failure(
            GATEWAY_TIMEOUT,
            _describe(error),
            f"Service did not answer within {timeout_seconds:g} seconds.",
            started,
        )
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        return _failure(
            BAD_GATEWAY,
            _describe(error),
            f"Service could not be reached: {_describe(error)}",
            started,
        )
    return CallOutcome(
        status_code=response.status_code,
        response_json=parse_reply(response.content),
        error=None,
        duration_seconds=time.perf_counter() - started,
    )


def parse_reply(content: bytes) -> Any:
    """The reply as JSON, or None when it is not JSON that the database can store."""
    try:
        value = json.loads(content, parse_constant=_no_constant)
    except ValueError:
        return None
    return None if json_problem(value) else value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _failure(status_code: int, error: str, detail: str, started: float) -> CallOutcome:
    return CallOutcome(
        status_code=status_code,
        response_json=None,
        error=error,
        duration_seconds=time.perf_counter() - started,
        detail=detail,
    )
