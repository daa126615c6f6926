"""Groups: list and create (site admins), show, rename (site admins)."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.serialize import group_json
from datameta.logic import groups


@view_config(route_name="api_groups", request_method="GET", renderer="json", openapi=True)
def list_groups(request: Request) -> list[dict[str, Any]]:
    found = act(request, groups.list_groups)
    return [{**group_json(group), "memberCount": count} for group, count in found]


@view_config(route_name="api_groups", request_method="POST", renderer="json", openapi=True)
def create_group(request: Request) -> dict[str, Any]:
    group = act(request, groups.create_group, request.openapi_validated.body["name"])
    request.response.status = 201
    request.response.location = request.route_url("api_group", id=group.site_id)
    return group_json(group)


@view_config(route_name="api_group", request_method="GET", renderer="json", openapi=True)
def get_group(request: Request) -> dict[str, Any]:
    return group_json(act_on(request, groups.get_group))


@view_config(route_name="api_group", request_method="PUT", openapi=True)
def rename_group(request: Request) -> Response:
    act_on(request, groups.rename_group, request.openapi_validated.body["name"])
    return Response(status=204)
