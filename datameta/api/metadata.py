"""/metadata: the column definitions."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.serialize import metadatum_json
from datameta.logic.metadata import (
    DefinitionInput,
    assess_definition,
    delete_definition,
    list_definitions,
    save_definition,
)


def definition_input(body: dict[str, Any]) -> DefinitionInput:
    return DefinitionInput(
        name=body["name"],
        regex_description=body["regexDescription"],
        long_description=body["longDescription"],
        example=body["example"],
        regexp=body["regExp"],
        datetime_format=body["dateTimeFmt"],
        mandatory=body["isMandatory"],
        order=body["order"],
        is_file=body["isFile"],
        submission_unique=body["isSubmissionUnique"],
        site_unique=body["isSiteUnique"],
        service_id=body["serviceId"] or None,
    )


@view_config(route_name="api_metadata", request_method="GET", renderer="json", openapi=True)
def list_metadata(request: Request) -> list[dict[str, Any]]:
    return [metadatum_json(definition) for definition in list_definitions(request.dbsession)]


@view_config(route_name="api_metadata", request_method="POST", renderer="json", openapi=True)
def create_metadatum(request: Request) -> dict[str, Any]:
    data = definition_input(request.openapi_validated.body)
    return metadatum_json(act(request, save_definition, data))


@view_config(route_name="api_metadatum", request_method="PUT", renderer="json", openapi=True)
def update_metadatum(request: Request) -> dict[str, Any]:
    data = definition_input(request.openapi_validated.body)
    definition = act(request, save_definition, data, request.matchdict["id"])
    return metadatum_json(definition)


@view_config(route_name="api_metadatum", request_method="DELETE", openapi=True)
def delete_metadatum(request: Request) -> HTTPNoContent:
    act_on(request, delete_definition)
    return HTTPNoContent()


@view_config(
    route_name="api_metadatum_impact", request_method="POST", renderer="json", openapi=True
)
def assess_metadatum(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    impact = act(request, assess_definition, definition_input(body["definition"]), body.get("id"))
    return {"stagedRecords": impact.records, "users": impact.users}
