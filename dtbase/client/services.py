from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dtbase.client.resource import Resource
from dtbase.schemas.common import Msg
from dtbase.schemas.services import (
    CallServiceRequest,
    DeleteParameterSetRequest,
    DeleteServiceRequest,
    EditParameterSetRequest,
    EditServiceRequest,
    HttpMethod,
    InsertParameterSetRequest,
    InsertServiceRequest,
    ListParameterSetsRequest,
    ListRunsRequest,
    ParameterSet,
    ServiceDetails,
    ServiceRun,
    ServiceRunDetails,
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
        new_name: str | None = None,
        url: str | None = None,
        http_method: HttpMethod | str | None = None,
    ) -> Msg:
        body = EditServiceRequest(name=name, new_name=new_name, url=url, http_method=http_method)
        return self._client.post("/service/edit-service", _dump(body), Msg)

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
    ) -> Msg:
        """Call the service through the backend; ApiError 502/504 if it failed (still logged)."""
        body = CallServiceRequest(
            service_name=service_name, parameter_set_name=parameter_set_name, parameters=parameters
        )
        return self._client.post("/service/run-service", _dump(body), Msg)

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


def _dump(body: BaseModel) -> Any:
    """The request as JSON, without the optional fields left as None."""
    return body.model_dump(mode="json", exclude_none=True)
