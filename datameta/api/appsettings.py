"""Application settings (site admins): list them, change one from its text form."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.serialize import identifier
from datameta.logic import appsettings
from datameta.models import AppSetting


def app_setting_json(setting: AppSetting) -> dict[str, Any]:
    return {
        "id": identifier(setting),
        "key": setting.key,
        "valueType": setting.value_type.value,
        "value": appsettings.value_as_text(setting),
    }


@view_config(route_name="api_appsettings", request_method="GET", renderer="json", openapi=True)
def list_app_settings(request: Request) -> list[dict[str, Any]]:
    settings = act(request, appsettings.list_app_settings)
    return [app_setting_json(setting) for setting in settings]


@view_config(route_name="api_appsetting", request_method="PUT", openapi=True)
def update_app_setting(request: Request) -> Response:
    act_on(request, appsettings.update_app_setting, request.openapi_validated.body["value"])
    return Response(status=204)


@view_config(
    route_name="api_appsetting_preview", request_method="POST", renderer="json", openapi=True
)
def preview_app_setting(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    preview = act(request, appsettings.preview_app_setting, body["key"], body["value"])
    return {"placeholders": preview.placeholders, "text": preview.text, "html": preview.html}
