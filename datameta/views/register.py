"""The registration page: asking for an account, which an admin then accepts or rejects."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request

from datameta.errors import ValidationFailed
from datameta.logic import registrations
from datameta.logic.users import normalize_email
from datameta.security.html import sanitize_html
from datameta.views.auth import errors_of, invalid
from datameta.views.public import public_page


def form_context(request: Request) -> dict[str, Any]:
    """What the form offers: the groups (unless hidden) and the user agreement, made safe."""
    agreement, groups = registrations.registration_settings(request.dbsession, request.app_settings)
    return {
        "show_groups": request.app_settings.get("registration_show_groups", True),
        "groups": groups,
        "agreement_html": sanitize_html(agreement) if agreement.strip() else None,
    }


@public_page("register", "GET", "register.html")
def register_form(request: Request) -> dict[str, Any]:
    values = dict.fromkeys(registrations.APPLICATION_TEXT_FIELDS, "")
    return {**form_context(request), **values, "org_create": False, "agreed": False}


@public_page("register", "POST", "register.html")
def register(request: Request) -> dict[str, Any]:
    form = request.POST
    values: dict[str, Any] = {
        name: form.get(name, "") for name in registrations.APPLICATION_TEXT_FIELDS
    }
    values["org_create"] = form.get("org_create") == "new"
    values["agreed"] = "check_user_agreement" in form
    try:
        registrations.ask_for_account(
            request.dbsession,
            request.app_settings,
            request.outbox,
            registrations.Application.of(
                values, org_create=values["org_create"], check_user_agreement=values["agreed"]
            ),
        )
    except ValidationFailed as error:
        return invalid(request, {**form_context(request), **values}, errors_of(error))
    return {"sent": True, "email": normalize_email(values["email"])}
