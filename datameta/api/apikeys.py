"""API keys: create (by session, API key, or email and password), list and delete."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from datameta.api.errors import error_response
from datameta.api.serialize import identifier, naive_utc
from datameta.db import commit_despite_error
from datameta.errors import Forbidden, Unauthenticated
from datameta.logic import apikeys
from datameta.logic.appsettings import lockout_policy
from datameta.logic.auth import TFA_PASSED_SESSION_KEY, authenticate, record_success
from datameta.models import User
from datameta.security.policy import bearer_token, uses_session_auth

TFA_BYPASS_REFUSED = (
    "Two-factor authentication is enabled: create API keys on your account page "
    "after logging in, not with email and password."
)


def _key_owner(request: Request, body: dict[str, Any]) -> User:
    """Who the new key is for: the caller, or whoever the email and password name."""
    settings = request.settings
    user = request.user
    if user is not None:
        # A session exists only after both factors, but say so explicitly: no bypass.
        if (
            settings.tfa_enabled
            and uses_session_auth(request)
            and not request.session.get(TFA_PASSED_SESSION_KEY)
        ):
            raise Forbidden(TFA_BYPASS_REFUSED)
        return user
    if bearer_token(request) is not None or "email" not in body or "password" not in body:
        raise Unauthenticated("This needs a valid API key, a login session, or email and password.")
    if settings.tfa_enabled:
        # Email and password are only the first factor.
        raise Forbidden(TFA_BYPASS_REFUSED)
    user = authenticate(
        request.dbsession, body["email"], body["password"], lockout_policy(request.app_settings)
    )
    record_success(request.dbsession, user)
    return user


@view_config(
    route_name="api_keys",
    request_method="POST",
    renderer="json",
    openapi=True,
    permission=NO_PERMISSION_REQUIRED,
)
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
    apikeys.delete_api_key(request.dbsession, request.user, request.matchdict["id"])
    return Response(status=200)


@view_config(route_name="api_user_keys", request_method="GET", renderer="json", openapi=True)
def list_keys(request: Request) -> list[dict[str, Any]]:
    keys = apikeys.list_api_keys(request.dbsession, request.user, request.matchdict["id"])
    return [
        {
            "id": identifier(key),
            "label": key.label,
            "expires": naive_utc(key.expires),
            "hasExpired": apikeys.has_expired(key),
        }
        for key in keys
    ]
