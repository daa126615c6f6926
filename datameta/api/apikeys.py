"""API keys: create (by session, API key, or email and password), list and delete."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.api.acting import act, act_on
from datameta.api.errors import error_response
from datameta.api.public import public_endpoint
from datameta.api.serialize import identifier, naive_utc
from datameta.db import commit_despite_error
from datameta.errors import Unauthenticated
from datameta.logic import apikeys
from datameta.logic.appsettings import lockout_policy
from datameta.logic.auth import TFA_PASSED_SESSION_KEY
from datameta.models import User
from datameta.security.policy import bearer_token, uses_session_auth


def _key_owner(request: Request, body: dict[str, Any]) -> User:
    """Who the new key is for: the caller, or whoever the email and password name."""
    # Credentials count only without an API key: a wrong key is not a login.
    given = bearer_token(request) is None and "email" in body and "password" in body
    return act(
        request,
        apikeys.key_owner,
        apikeys.Credentials(body["email"], body["password"]) if given else None,
        # A session has both factors once the second passed; an API key was made with them.
        second_factor_passed=not uses_session_auth(request)
        or bool(request.session.get(TFA_PASSED_SESSION_KEY)),
        tfa_enabled=request.settings.tfa_enabled,
        lockout=lockout_policy(request.app_settings),
    )


@public_endpoint("api_keys", "POST")
def create_key(request: Request) -> dict[str, Any] | Response:
    body = request.openapi_validated.body
    try:
        owner = _key_owner(request, body)
    except Unauthenticated as error:
        # Answered, not raised: the failed attempt must commit with this request.
        commit_despite_error(request)
        return error_response(error.status, error.items)
    rules = apikeys.expiry_rules(request.settings)
    key, token = apikeys.create_api_key(
        request.dbsession, owner, body["label"], body.get("expires"), rules
    )
    return {
        "id": identifier(key),
        "userId": identifier(owner),
        "token": token,
        "label": key.label,
        "expires": naive_utc(key.expires),
    }


@view_config(route_name="api_key", request_method="DELETE", openapi=True)
def delete_key(request: Request) -> Response:
    act_on(request, apikeys.delete_api_key)
    return Response(status=200)


@view_config(route_name="api_user_keys", request_method="GET", renderer="json", openapi=True)
def list_keys(request: Request) -> list[dict[str, Any]]:
    keys = act_on(request, apikeys.list_api_keys)
    return [
        {
            "id": identifier(key),
            "label": key.label,
            "expires": naive_utc(key.expires),
            "hasExpired": apikeys.has_expired(key),
        }
        for key in keys
    ]
