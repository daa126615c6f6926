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

# The name on the wire of each field of a definition.
WIRE_NAMES = {
    "name": "name",
    "regex_description": "regexDescription",
    "long_description": "longDescription",
    "example": "example",
    "regexp": "regExp",
    "datetime_format": "dateTimeFmt",
    "mandatory": "isMandatory",
    "order": "order",
    "is_file": "isFile",
    "submission_unique": "isSubmissionUnique",
    "site_unique": "isSiteUnique",
    "service_id": "serviceId",
}


def definition_input(body: dict[str, Any]) -> DefinitionInput:
    fields = {field: body[wire] for field, wire in WIRE_NAMES.items()}
    # An empty service id, as DataMeta 1.x clients send it, means none.
    return DefinitionInput(**{**fields, "service_id": fields["service_id"] or None})


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
