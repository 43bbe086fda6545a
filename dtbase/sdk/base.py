"""`BaseService`, `BaseIngress` and `BaseModel`: DTBase's contract for writing services.

A subclass implements `get_service_data(**kwargs)`, returning `(endpoint, payload)` pairs.
Calling the object as `service(dt_user_email=..., dt_user_password=..., **kwargs)` logs in
to the backend, calls `get_service_data(**kwargs)` and posts every pair in order, exactly as
DTBase's classes do, so a DTBase service ports unchanged. Unlike DTBase:

* it goes through `dtbase.client.Client`, so an expired access token is refreshed;
* the backend URL (`DT_BACKEND_URL`) and the default password (`DT_DEFAULT_USER_PASS`) are
  read when the service is called, not when it is imported;
* it logs in *before* `get_service_data`, which can read through `self.client`;
* every call has a timeout;
* a 409 on an `insert-...` endpoint counts as "already there" only when what is stored is
  what was sent (`dtbase.sdk.existing`); a clash with something else is a failure;
* the answer is a `RunSummary` of what succeeded and what failed; when anything failed, the
  summary is raised as one `ServiceRunError` (after every pair has been tried);
* a payload of `{}` is sent as `{}` (only `None` means "no body").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.sdk import existing

logger = logging.getLogger("dtbase.sdk")

CONFLICT = 409

# One call a service wants made: the endpoint path and its JSON body (None: no body).
Call = tuple[str, Any]


class ServiceSettings(BaseSettings):
    """What a service reads from the environment, each time it is called."""

    model_config = SettingsConfigDict(env_prefix="DT_", extra="ignore")

    backend_url: str = "http://localhost:5000"
    default_user_pass: SecretStr | None = None
    service_request_timeout_seconds: float = 30.0


class Outcome(StrEnum):
    ok = "ok"
    exists = "exists"  # a 409 on an insert, and what is stored is what was sent
    failed = "failed"


@dataclass(frozen=True)
class CallResult:
    """What became of one `(endpoint, payload)` pair."""

    endpoint: str
    outcome: Outcome
    status_code: int | None = None
    detail: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "outcome": str(self.outcome),
            "status_code": self.status_code,
            "detail": self.detail,
        }


@dataclass
class RunSummary:
    """What one call of a service did: each posted pair, and problems found on the way."""

    service: str
    results: list[CallResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> int:
        return sum(result.outcome is Outcome.ok for result in self.results)

    @property
    def already_there(self) -> int:
        return sum(result.outcome is Outcome.exists for result in self.results)

    @property
    def failures(self) -> list[CallResult]:
        return [result for result in self.results if result.outcome is Outcome.failed]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures

    def describe(self) -> str:
        lines = [
            f"{self.service}: {self.succeeded} calls succeeded, "
            f"{self.already_there} already there, {len(self.failures)} failed"
        ]
        lines += [f"  problem: {problem}" for problem in self.problems]
        lines += [
            f"  {failure.endpoint} -> {failure.status_code or 'no answer'}: {failure.detail}"
            for failure in self.failures
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON summary, for a service's answer and so for the run log."""
        return {
            "service": self.service,
            "ok": self.ok,
            "succeeded": self.succeeded,
            "already_there": self.already_there,
            "failed": len(self.failures),
            "problems": list(self.problems),
            "failures": [failure.to_dict() for failure in self.failures],
        }


class ServiceRunError(RuntimeError):
    """Something in a service run failed; `summary` says what, and what still worked."""

    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__(summary.describe())


class BaseService:
    """Subclass it, implement `get_service_data(**kwargs)`, call the object.

    `backend_url` defaults to `DT_BACKEND_URL` at call time; `http` is an `httpx.Client`
    to use instead (e.g. with a mounted transport in tests); `timeout` is in seconds for each
    request (default `DT_SERVICE_REQUEST_TIMEOUT_SECONDS`, 30).
    """

    service_type: ClassVar[str] = "service"

    def __init__(
        self,
        backend_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        timeout: float | None = None,
    ) -> None:
        self.backend_url = backend_url
        self.http = http
        self.timeout = timeout
        self.problems: list[str] = []
        self._client: Client | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def client(self) -> Client:
        """The logged-in client of the current call, for reading the backend."""
        if self._client is None:
            raise RuntimeError("The service is not being called: no client yet")
        return self._client

    def get_service_data(self, *args: Any, **kwargs: Any) -> Iterable[Call]:
        """The `(endpoint, payload)` pairs to post, in order."""
        raise NotImplementedError

    def report_problem(self, message: str) -> None:
        """Note something that went wrong (e.g. with a data provider): the run fails."""
        logger.warning("%s: %s", self.name, message)
        self.problems.append(message)

    def __call__(
        self,
        dt_user_email: str | None = None,
        dt_user_password: str | None = None,
        **kwargs: Any,
    ) -> RunSummary:
        """Log in, get the service data and post it; raise ServiceRunError if anything failed."""
        settings = ServiceSettings()
        email = dt_user_email or DEFAULT_USER_EMAIL
        if dt_user_password is None:
            if settings.default_user_pass is None:
                raise ValueError("No password: pass dt_user_password or set DT_DEFAULT_USER_PASS")
            dt_user_password = settings.default_user_pass.get_secret_value()
        self.problems = []
        summary = RunSummary(service=self.name, problems=self.problems)
        timeout = self.timeout or settings.service_request_timeout_seconds
        client = Client(self.backend_url or settings.backend_url, http=self.http, timeout=timeout)
        try:
            try:
                client.login(email, dt_user_password)
            except (ApiError, httpx.HTTPError) as error:
                self.report_problem(f"Could not log in to the backend as {email}: {error}")
                raise ServiceRunError(summary) from error
            self._client = client
            for endpoint, payload in self.get_service_data(**kwargs):
                summary.results.append(self._post(client, endpoint, payload))
        finally:
            self._client = None
            if self.http is None:
                client.close()
        if not summary.ok:
            raise ServiceRunError(summary)
        return summary

    def _post(self, client: Client, endpoint: str, payload: Any) -> CallResult:
        try:
            answer = client.request("POST", endpoint, payload)
        except ApiError as error:
            if error.status_code == CONFLICT and _is_insert(endpoint):
                return self._conflict(client, endpoint, payload, error)
            logger.warning("%s: %s failed: %s", self.name, endpoint, error)
            return CallResult(endpoint, Outcome.failed, error.status_code, error.detail)
        except httpx.TimeoutException as error:
            logger.warning("%s: %s timed out: %s", self.name, endpoint, error)
            return CallResult(endpoint, Outcome.failed, None, f"Timed out: {_describe(error)}")
        except httpx.HTTPError as error:
            logger.warning("%s: %s failed: %s", self.name, endpoint, error)
            return CallResult(endpoint, Outcome.failed, None, _describe(error))
        except ValueError as error:  # a success whose body is not JSON
            return CallResult(endpoint, Outcome.failed, None, f"Answer is not JSON: {error}")
        detail = answer.get("detail") if isinstance(answer, dict) else None
        logger.info("%s: %s ok", self.name, endpoint)
        return CallResult(endpoint, Outcome.ok, None, detail)

    def _conflict(self, client: Client, endpoint: str, payload: Any, error: ApiError) -> CallResult:
        """A 409 on an insert: "already there" only if what is stored is what was sent."""
        try:
            different = existing.difference(client, endpoint, payload)
        except existing.Unchecked as unchecked:
            different = f"{error.detail} ({unchecked})"
        except (ApiError, httpx.HTTPError, ValidationError) as failure:
            different = f"{error.detail}; comparing with what is stored failed: {failure}"
        if different is None:
            logger.info("%s: %s already there (%s)", self.name, endpoint, error.detail)
            return CallResult(endpoint, Outcome.exists, error.status_code, error.detail)
        logger.warning("%s: %s clashes with what is stored: %s", self.name, endpoint, different)
        return CallResult(endpoint, Outcome.failed, error.status_code, different)


class BaseIngress(BaseService):
    """A service that brings data in from elsewhere (sensor readings)."""

    service_type: ClassVar[str] = "ingress"


class BaseModel(BaseService):
    """A service that computes model runs (forecasts, simulations) from the data."""

    service_type: ClassVar[str] = "model"


def _is_insert(endpoint: str) -> bool:
    return endpoint.rstrip("/").rsplit("/", 1)[-1].startswith("insert-")


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
