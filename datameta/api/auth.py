"""Who am I, passwords, the second factor and lockouts."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.errors import error_response
from datameta.api.public import public_endpoint
from datameta.api.serialize import group_json, identifier
from datameta.db import commit_despite_error
from datameta.errors import Unauthenticated, WrongPassword
from datameta.logic import auth

# The id under which PUT /users/{id}/password takes a reset token instead of the old password.
RESET_TOKEN_USER_ID = "0"  # noqa: S105 (a user id, not a password)


@view_config(route_name="api_whoami", request_method="GET", renderer="json", openapi=True)
def get_whoami(request: Request) -> dict[str, Any]:
    user = request.user
    return {
        "id": identifier(user),
        "name": user.fullname,
        "groupAdmin": user.group_admin,
        "siteAdmin": user.site_admin,
        "siteRead": user.site_read,
        "email": user.email,
        "group": group_json(user.group),
    }


@public_endpoint("api_user_password", "PUT")
def set_password(request: Request) -> dict[str, str] | Response:
    """With id 0 the credential is a reset token; otherwise it is the current password."""
    body = request.openapi_validated.body
    rules = auth.password_rules(request.settings, request.app_settings)
    credential, new_password = body["passwordChangeCredential"], body["newPassword"]
    user_id = request.matchdict["id"]
    if user_id == RESET_TOKEN_USER_ID:
        tfa_token = auth.reset_password(request.dbsession, credential, new_password, rules)
    else:
        if request.user is None:
            raise Unauthenticated("Log in, or use a password reset token with user id 0.")
        try:
            tfa_token = act(request, auth.change_password, user_id, credential, new_password, rules)
        except WrongPassword as error:
            # Answered, not raised: the failed attempt must commit with this request.
            commit_despite_error(request)
            return error_response(error.status, error.items)
    return {"tfaToken": tfa_token}


@view_config(route_name="api_user_totp", request_method="DELETE", openapi=True)
def reset_second_factor(request: Request) -> Response:
    act_on(request, auth.reset_second_factor)
    return Response(status=200)


@view_config(route_name="api_user_lockout", request_method="DELETE", openapi=True)
def unlock_user(request: Request) -> HTTPNoContent:
    act_on(request, auth.unlock_user)
    return HTTPNoContent()
