from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from dtbase.client.errors import ApiError
from dtbase.client.resource import Resource
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
from dtbase.schemas.services import (
    CallServiceRequest,
    DeleteParameterSetRequest,
    DeleteScheduleRequest,
    DeleteServiceRequest,
    EditParameterSetRequest,
    EditScheduleRequest,
    EditServiceRequest,
    HttpMethod,
    InsertParameterSetRequest,
    InsertScheduleRequest,
    InsertServiceRequest,
    ListParameterSetsRequest,
    ListRunsRequest,
    ListSchedulesRequest,
    ParameterSet,
    RunOutcome,
    RunStarted,
    Schedule,
    ServiceDetails,
    ServiceRun,
    ServiceRunDetails,
)


class ServiceRunFailed(ApiError):
    """The service answered, but not with success (or its reply could not be stored).

    `status_code` is the service's own; `detail` its JSON reply (or why the run failed);
    `outcome` the whole answer of run-service."""

    def __init__(self, outcome: RunOutcome, *, service_name: str) -> None:
        self.outcome = outcome
        detail = outcome.error or outcome.response_json
        super().__init__(
            outcome.response_status_code or 0,
            detail,
            method="POST",
            path=f"/service/run-service ({service_name}, run {outcome.run_id})",
        )


class Services(Resource):
    """The /service endpoints."""

    def insert_service(self, name: str, url: str, http_method: HttpMethod | str) -> Msg:
        body = InsertServiceRequest(name=name, url=url, http_method=http_method)
        return self._client.post("/service/insert-service", body.model_dump(mode="json"), Msg)

    def list_services(self) -> list[ServiceDetails]:
        return self._client.get("/service/list-services", list[ServiceDetails])

    def edit_service(
        self,
        name: str,
        *,
        new_name: str | Unset = UNSET,
        url: str | Unset = UNSET,
        http_method: HttpMethod | str | Unset = UNSET,
    ) -> Msg:
        """Change the fields given; the others stay."""
        body = EditServiceRequest(
            name=name, **given(new_name=new_name, url=url, http_method=http_method)
        )
        fields = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/service/edit-service", fields, Msg)

    def delete_service(self, name: str) -> Msg:
        body = DeleteServiceRequest(name=name)
        return self._client.post("/service/delete-service", body.model_dump(mode="json"), Msg)

    def insert_parameter_set(self, service_name: str, name: str, parameters: dict[str, Any]) -> Msg:
        body = InsertParameterSetRequest(
            service_name=service_name, name=name, parameters=parameters
        )
        return self._client.post("/service/insert-parameter-set", _dump(body), Msg)

    def delete_parameter_set(self, service_name: str, name: str) -> Msg:
        body = DeleteParameterSetRequest(service_name=service_name, name=name)
        return self._client.post("/service/delete-parameter-set", _dump(body), Msg)

    def list_parameter_sets(self, service_name: str | None = None) -> list[ParameterSet]:
        body = ListParameterSetsRequest(service_name=service_name)
        return self._client.post("/service/list-parameter-sets", _dump(body), list[ParameterSet])

    def edit_parameter_set(self, service_name: str, name: str, parameters: dict[str, Any]) -> Msg:
        body = EditParameterSetRequest(service_name=service_name, name=name, parameters=parameters)
        return self._client.post("/service/edit-parameter-set", _dump(body), Msg)

    def run_service(
        self,
        service_name: str,
        *,
        parameter_set_name: str | None = None,
        parameters: dict[str, Any] | list[Any] | None = None,
        check: bool = False,
    ) -> RunOutcome:
        """Call the service through the backend and wait for its answer.

        Returns the run's outcome: its id, the service's status code and JSON reply, and
        whether it succeeded (a 2xx answer). ApiError 502/504 if the service could not be
        reached or timed out (the run is logged all the same). With `check=True`, a run
        that did not succeed raises ServiceRunFailed, with the service's own message.
        """
        body = CallServiceRequest(
            service_name=service_name, parameter_set_name=parameter_set_name, parameters=parameters
        )
        outcome = self._client.post("/service/run-service", _dump(body), RunOutcome)
        if check and not outcome.succeeded:
            raise ServiceRunFailed(outcome, service_name=service_name)
        return outcome

    def start_service_run(
        self,
        service_name: str,
        *,
        parameter_set_name: str | None = None,
        parameters: dict[str, Any] | list[Any] | None = None,
    ) -> RunStarted:
        """run-service with `"wait": false`: returns at once with the id of the pending run;
        follow it in `list_runs_details` (status pending, then succeeded or failed)."""
        body = CallServiceRequest(
            service_name=service_name,
            parameter_set_name=parameter_set_name,
            parameters=parameters,
            wait=False,
        )
        return self._client.post("/service/run-service", _dump(body), RunStarted)

    def list_runs(
        self, service_name: str | None = None, parameter_set_name: str | None = None
    ) -> list[ServiceRun]:
        body = ListRunsRequest(service_name=service_name, parameter_set_name=parameter_set_name)
        return self._client.post("/service/list-runs", _dump(body), list[ServiceRun])

    def list_runs_details(
        self, service_name: str | None = None, parameter_set_name: str | None = None
    ) -> list[ServiceRunDetails]:
        body = ListRunsRequest(service_name=service_name, parameter_set_name=parameter_set_name)
        return self._client.post("/service/list-runs-details", _dump(body), list[ServiceRunDetails])

    def insert_schedule(
        self,
        service_name: str,
        name: str,
        *,
        cron: str | None = None,
        interval_seconds: int | None = None,
        time_zone: str = "UTC",
        parameter_set_name: str | None = None,
        parameters: dict[str, Any] | list[Any] | None = None,
        enabled: bool = True,
        start_at: datetime | None = None,
    ) -> Msg:
        """Schedule a service: give `cron` (five fields, in `time_zone`) or `interval_seconds`."""
        body = InsertScheduleRequest(
            service_name=service_name,
            name=name,
            cron=cron,
            interval_seconds=interval_seconds,
            time_zone=time_zone,
            parameter_set_name=parameter_set_name,
            parameters=parameters,
            enabled=enabled,
            start_at=start_at,
        )
        return self._client.post("/service/insert-schedule", _dump(body), Msg)

    def list_schedules(self, service_name: str | None = None) -> list[Schedule]:
        body = ListSchedulesRequest(service_name=service_name)
        return self._client.post("/service/list-schedules", _dump(body), list[Schedule])

    def edit_schedule(
        self,
        service_name: str,
        name: str,
        *,
        new_name: str | Unset = UNSET,
        cron: str | Unset | None = UNSET,
        interval_seconds: int | Unset | None = UNSET,
        time_zone: str | Unset = UNSET,
        parameter_set_name: str | Unset | None = UNSET,
        parameters: dict[str, Any] | list[Any] | Unset | None = UNSET,
        enabled: bool | Unset = UNSET,
        start_at: datetime | Unset | None = UNSET,
    ) -> Msg:
        """Change the fields given (`enabled=False` disables; None clears a field); the
        others stay. Giving `cron` replaces `interval_seconds` and the reverse, and giving
        `parameter_set_name` replaces `parameters` and the reverse."""
        changes = given(
            new_name=new_name,
            cron=cron,
            interval_seconds=interval_seconds,
            time_zone=time_zone,
            parameter_set_name=parameter_set_name,
            parameters=parameters,
            enabled=enabled,
            start_at=start_at,
        )
        body = EditScheduleRequest(service_name=service_name, name=name, **changes)
        fields = body.model_dump(mode="json", exclude_unset=True)
        return self._client.post("/service/edit-schedule", fields, Msg)

    def delete_schedule(self, service_name: str, name: str) -> Msg:
        body = DeleteScheduleRequest(service_name=service_name, name=name)
        return self._client.post("/service/delete-schedule", _dump(body), Msg)


def _dump(body: BaseModel) -> Any:
    """The request as JSON, without the optional fields left as None."""
    return body.model_dump(mode="json", exclude_none=True)
