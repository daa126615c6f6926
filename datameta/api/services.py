"""/services and /service-execution: pipelines that fill their columns after submission."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.metadatasets import metadatasets_json
from datameta.api.serialize import service_json
from datameta.logic import services


@view_config(route_name="api_services", request_method="GET", renderer="json", openapi=True)
def list_services(request: Request) -> list[dict[str, Any]]:
    found = act(request, services.list_services)
    return [service_json(service) for service in found]


@view_config(route_name="api_services", request_method="POST", renderer="json", openapi=True)
def create_service(request: Request) -> dict[str, Any]:
    name = request.openapi_validated.body["name"]
    return service_json(act(request, services.create_service, name))


@view_config(route_name="api_service", request_method="PUT", renderer="json", openapi=True)
def update_service(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    service = act_on(
        request, services.update_service, name=body.get("name"), user_ids=body.get("userIds")
    )
    return service_json(service)


@view_config(
    route_name="api_service_execution", request_method="POST", renderer="json", openapi=True
)
def report_execution(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    metadataset = act(
        request,
        services.execute_service,
        request.matchdict["serviceId"],
        request.matchdict["metadatasetId"],
        body["record"],
        body["fileIds"],
    )
    return metadatasets_json(request, [metadataset])[0]
