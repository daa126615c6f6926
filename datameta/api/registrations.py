"""Registration requests: asking for an account, and the admins' answers."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config

from datameta.api.acting import act
from datameta.api.public import public_endpoint
from datameta.api.serialize import aware_utc, group_json, identifier
from datameta.api.users import user_response
from datameta.config import parse_bool
from datameta.logic import registrations
from datameta.models import RegistrationRequest
from datameta.security.html import sanitize_html


def _flag(value: Any) -> bool:
    """DataMeta 1.x's form sends org_create as a string ("on") or null; newer clients a boolean.

    Text other than a yes/no word is a ticked checkbox's own value, so it means yes.
    """
    if isinstance(value, str):
        try:
            return parse_bool(value)
        except ValueError:
            return True
    return bool(value)


def registration_json(registration: RegistrationRequest) -> dict[str, Any]:
    return {
        "id": identifier(registration),
        "name": registration.fullname,
        "email": registration.email,
        "groupId": identifier(registration.group),
        "groupName": registration.group.name if registration.group else None,
        "newGroupName": registration.new_group_name,
        "created": aware_utc(registration.created),
    }


@public_endpoint("api_registration_settings", "GET")
def get_registration_settings(request: Request) -> dict[str, Any]:
    agreement, groups = registrations.registration_settings(request.dbsession, request.app_settings)
    return {
        # Sanitized: clients show it as HTML, and an admin's markup must not run script.
        "userAgreement": str(sanitize_html(agreement)) if agreement.strip() else None,
        "groups": [group_json(group) for group in groups],
    }


@public_endpoint("api_registrations", "POST", json=False)
def create_registration(request: Request) -> HTTPNoContent:
    body = request.openapi_validated.body
    registrations.ask_for_account(
        request.dbsession,
        request.app_settings,
        request.outbox,
        registrations.Application.of(
            body,
            org_create=_flag(body.get("org_create")),
            check_user_agreement=_flag(body.get("check_user_agreement")),
        ),
    )
    return HTTPNoContent()


@view_config(route_name="api_registrations", request_method="GET", renderer="json", openapi=True)
def list_registrations(request: Request) -> list[dict[str, Any]]:
    pending = act(request, registrations.list_requests)
    return [registration_json(registration) for registration in pending]


@view_config(
    route_name="api_registration_accept", request_method="POST", renderer="json", openapi=True
)
def accept_registration(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    user = act(
        request,
        registrations.accept_and_welcome,
        request.outbox,
        request.matchdict["id"],
        registrations.Acceptance(
            name=body.get("name"),
            group_id=body.get("groupId"),
            new_group_name=body.get("newGroupName"),
            group_admin=bool(body.get("groupAdmin")),
        ),
    )
    # The admin who accepted may see the new user's email and roles.
    return user_response(user, details=True)


@view_config(route_name="api_registration_reject", request_method="POST", openapi=True)
def reject_registration(request: Request) -> HTTPNoContent:
    act(request, registrations.reject_and_tell, request.outbox, request.matchdict["id"])
    return HTTPNoContent()
