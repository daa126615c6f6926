"""Users: the list for admins, a user's details, and field-wise changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.serialize import aware_utc, identifier
from datameta.logic import auth, users
from datameta.models import User

DEFAULT_LIMIT = 50


def user_list_item(user: User, now: datetime) -> dict[str, Any]:
    return {
        "id": identifier(user),
        "name": user.fullname,
        "email": user.email,
        "groupId": identifier(user.group),
        "groupName": user.group.name,
        "groupAdmin": user.group_admin,
        "siteAdmin": user.site_admin,
        "siteRead": user.site_read,
        "enabled": user.enabled,
        "lockedUntil": aware_utc(auth.lock_end(user, now)),
        "secondFactor": user.tfa_secret_encrypted is not None,
        "lastLogin": aware_utc(user.last_login),
        "lastApiUse": aware_utc(user.last_api_use),
    }


def user_response(user: User, *, details: bool) -> dict[str, Any]:
    """DataMeta's UserResponse: email and role flags are null unless ``details``."""
    return {
        "id": identifier(user),
        "name": user.fullname,
        "groupId": identifier(user.group),
        "groupAdmin": user.group_admin if details else None,
        "siteAdmin": user.site_admin if details else None,
        "siteRead": user.site_read if details else None,
        "email": user.email if details else None,
    }


@view_config(route_name="api_users", request_method="GET", renderer="json", openapi=True)
def list_users(request: Request) -> list[dict[str, Any]]:
    query = request.openapi_validated.parameters.query
    page, total = act(
        request,
        users.list_users,
        users.UserQuery(
            search=query.get("search"),
            group_id=query.get("groupId"),
            roles=query.get("role", []),
            sort=query.get("sort", "name"),
            limit=query.get("limit", DEFAULT_LIMIT),
            offset=query.get("offset", 0),
        ),
    )
    request.response.headers["X-Total-Count"] = str(total)
    now = datetime.now(UTC)
    return [user_list_item(user, now) for user in page]


@view_config(route_name="api_user", request_method="GET", renderer="json", openapi=True)
def get_user(request: Request) -> dict[str, Any]:
    user = act_on(request, users.get_user)
    return user_response(user, details=users.user_details_visible(request.user, user))


@view_config(route_name="api_user", request_method="PUT", openapi=True)
def update_user(request: Request) -> Response:
    act_on(request, users.update_user, dict(request.openapi_validated.body))
    return Response(status=204)
