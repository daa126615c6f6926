"""The account page: change the password, create, list and delete API keys.

Every form posts to /account; a hidden ``action`` field says which one it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.view import view_config

from datameta.db import commit_despite_error
from datameta.errors import Forbidden, ValidationFailed, WrongPassword
from datameta.logic import apikeys, auth
from datameta.views.auth import errors_of, invalid, log_in, policy_hint

# The format of <input type="datetime-local">, in UTC.
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _rules(request: Request) -> apikeys.ExpiryRules:
    return apikeys.expiry_rules(request.settings)


def page_values(request: Request, **extra: Any) -> dict[str, Any]:
    """What the account page shows: the user's keys and the defaults of the key form."""
    user = request.user
    now = datetime.now(UTC)
    rules = _rules(request)
    keys = apikeys.list_api_keys(request.dbsession, user, str(user.uuid))
    return {
        "keys": [
            {
                "key": key,
                "expires": key.expires and key.expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                "expired": apikeys.has_expired(key, now),
            }
            for key in keys
        ],
        "policy_hint": policy_hint(request),
        "label": "",
        "expires": apikeys.default_expiry(rules, now).strftime(DATETIME_LOCAL),
        "expires_min": now.strftime(DATETIME_LOCAL),
        "expires_max": (now + timedelta(days=rules.max_days)).strftime(DATETIME_LOCAL),
        "max_days": rules.max_days,
        "new_key": None,
        "new_token": None,
        **extra,
    }


@view_config(route_name="account", request_method="GET", renderer="account/account.html")
def account(request: Request) -> dict[str, Any]:
    return page_values(request)


def change_password(request: Request) -> dict[str, Any] | HTTPFound:
    old = request.POST.get("old_password", "")
    new = request.POST.get("new_password", "")
    errors: dict[str, list[str]] = {}
    if not old:
        errors["old_password"] = ["Enter your current password."]
    if new != request.POST.get("new_password_repeat", ""):
        errors["new_password_repeat"] = ["The passwords do not match."]
    if errors:
        return invalid(request, page_values(request), errors)
    user = request.user
    try:
        tfa_token = auth.change_password(
            request.dbsession,
            user,
            str(user.uuid),
            old,
            new,
            auth.password_rules(request.settings, request.app_settings),
            field="new_password",
        )
    except WrongPassword as error:
        commit_despite_error(request)  # the failed attempt counts towards the lockout
        return invalid(request, page_values(request), errors_of(error, "old_password"))
    except Forbidden as error:
        return invalid(request, page_values(request), errors_of(error, "old_password"))
    except ValidationFailed as error:
        return invalid(request, page_values(request), errors_of(error, "new_password"))
    # Every session of the user has ended; this browser gets a fresh one.
    log_in(request, user)
    request.session.flash("Your password has been changed. Your other sessions have ended.")
    if tfa_token:
        # An admin reset the second factor meanwhile: enrol it again now.
        return HTTPFound(location=request.route_path("settfa", token=tfa_token))
    return HTTPFound(location=request.route_path("account"))


def create_key(request: Request) -> dict[str, Any]:
    label = request.POST.get("label", "")
    expires = request.POST.get("expires", "")
    try:
        key, token = apikeys.create_api_key(
            request.dbsession, request.user, label, expires, _rules(request)
        )
    except ValidationFailed as error:
        values = page_values(request, label=label, expires=expires)
        return invalid(request, values, errors_of(error, "expires"))
    # Shown in this answer only, never stored: no redirect that would lose it.
    return page_values(request, new_key=key, new_token=token)


def delete_key(request: Request) -> HTTPFound:
    apikeys.delete_api_key(request.dbsession, request.user, request.POST.get("key_id", ""))
    request.session.flash("The API key has been deleted.")
    return HTTPFound(location=request.route_path("account"))


ACTIONS: dict[str, Callable[[Request], Any]] = {
    "change_password": change_password,
    "create_key": create_key,
    "delete_key": delete_key,
}


@view_config(route_name="account", request_method="POST", renderer="account/account.html")
def account_action(request: Request) -> Any:
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        raise ValidationFailed("Unknown action.")
    return action(request)
