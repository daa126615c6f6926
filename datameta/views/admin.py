"""The admin page: sections, each at its own URL and shown to the admins it concerns.

A section is a template plus a function that gathers what it shows. Registration
requests are answered with forms that post to /admin with an ``action`` field
(they work without script); the other sections are clients of the public API
(static/js/admin/), like the submit page: the view hands them only what they
need to start. A section the user may not use is neither linked nor served (403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from pyramid.httpexceptions import HTTPForbidden, HTTPFound, HTTPNotFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.errors import NotFound, ValidationFailed
from datameta.logic import registrations
from datameta.logic.appsettings import HTML_SETTINGS
from datameta.logic.mails import PLACEHOLDERS
from datameta.models import RegistrationRequest, User
from datameta.routes import API
from datameta.security import authz
from datameta.views.auth import errors_of

ANSWERED = "The registration request does not exist or was already answered."


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    visible: Callable[[User], bool]
    # Gathers the section's template values; keyword arguments carry a failed form's state.
    # None: the section fetches its data through the public API (api_section_context).
    context: Callable[..., dict[str, Any]] | None = None

    @property
    def template(self) -> str:
        return f"admin/{self.id}.html"


# Registration requests


@dataclass
class PendingRequest:
    """A request as the page shows it, with its answer form's values and problems."""

    registration: RegistrationRequest
    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    highlighted: bool = False

    @property
    def anchor(self) -> str:
        return f"request-{self.registration.uuid}"

    @property
    def created(self) -> str:
        return self.registration.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def default_answer(registration: RegistrationRequest) -> dict[str, Any]:
    """The answer form as the applicant asked: their name and group choice, no admin rights."""
    return {
        "name": registration.fullname,
        "group_choice": "existing" if registration.group is not None else "new",
        "group_id": registration.group.site_id if registration.group is not None else "",
        "new_group_name": registration.new_group_name or "",
        "group_admin": False,
    }


def registrations_context(
    request: Request,
    *,
    failed_id: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    showreq = request.params.get("showreq") if request.method == "GET" else None
    pending = []
    for registration in registrations.list_requests(request.dbsession, request.user):
        item = PendingRequest(registration, default_answer(registration))
        if str(registration.uuid) == failed_id:
            item.values, item.errors, item.highlighted = values or item.values, errors or {}, True
        item.highlighted = item.highlighted or str(registration.uuid) == showreq
        pending.append(item)
    return {
        "pending_requests": pending,
        "showreq_missing": bool(showreq) and not any(item.highlighted for item in pending),
        "assignable_groups": registrations.assignable_groups(request.dbsession, request.user),
        "may_create_groups": authz.can_create_group(request.user),
    }


def api_section_context(request: Request, **failed: Any) -> dict[str, Any]:
    """What a script-driven section starts with: the API, the caller and their powers."""
    actor = request.user
    return {
        "api_base": API,
        "actor": {
            "id": str(actor.uuid),
            "siteAdmin": authz.is_site_admin(actor),
            "groupAdmin": actor.group_admin,
            "groupId": actor.group.site_id,
            "groupName": actor.group.name,
        },
        # Which settings are mail texts and which HTML, so editors and previews fit them.
        "setting_kinds": {
            "mail": sorted(PLACEHOLDERS),
            "html": sorted(HTML_SETTINGS),
        },
    }


SECTIONS = [
    Section("users", "Users", authz.can_list_users),
    Section(
        "registrations", "Registration requests", authz.can_use_admin_page, registrations_context
    ),
    Section("groups", "Groups", authz.can_list_groups),
    Section("columns", "Sample-sheet columns", authz.can_manage_site),
    Section("settings", "Site settings", authz.can_manage_site),
    Section("services", "Services", authz.can_manage_site),
]
SECTIONS_BY_ID = {section.id: section for section in SECTIONS}
# /admin itself shows the requests: the links in notification mails lead there.
DEFAULT_SECTION = "registrations"


def require_admin(request: Request) -> None:
    if not authz.can_use_admin_page(request.user):
        raise HTTPForbidden()


def render_admin(
    request: Request, status: int = 200, section_id: str = DEFAULT_SECTION, **failed: Any
) -> Response:
    """The page with one section and links to every section the user may use."""
    section = SECTIONS_BY_ID[section_id]
    sections = [item for item in SECTIONS if item.visible(request.user)]
    if section not in sections:
        raise HTTPForbidden()
    values: dict[str, Any] = {"sections": sections, "section": section}
    context = section.context or api_section_context
    values.update(context(request, **failed.get(section.id, {})))
    request.response.status_int = status
    return render_to_response(
        "admin/index.html", values, request=request, response=request.response
    )


@view_config(route_name="admin", request_method="GET")
def admin_page(request: Request) -> Response:
    require_admin(request)
    return render_admin(request)


@view_config(route_name="admin_section", request_method="GET")
def admin_section(request: Request) -> Response:
    require_admin(request)
    section_id = request.matchdict["section"]
    if section_id not in SECTIONS_BY_ID:
        raise HTTPNotFound()
    return render_admin(request, section_id=section_id)


def back_to(request: Request, section: str) -> HTTPFound:
    return HTTPFound(location=request.route_path("admin_section", section=section))


@view_config(route_name="admin", request_method="POST", request_param="action=accept_registration")
def accept_registration(request: Request) -> Response:
    require_admin(request)
    form = request.POST
    request_id = form.get("request_id", "")
    values = {
        "name": form.get("name", ""),
        "group_choice": form.get("group_choice", "existing"),
        "group_id": form.get("group_id", ""),
        "new_group_name": form.get("new_group_name", ""),
        "group_admin": "group_admin" in form,
    }
    wants_new = values["group_choice"] == "new"
    try:
        user = registrations.accept_and_welcome(
            request.dbsession,
            request.user,
            request.outbox,
            request_id,
            registrations.Acceptance(
                name=values["name"],
                group_id=None if wants_new else values["group_id"],
                new_group_name=values["new_group_name"] if wants_new else None,
                group_admin=values["group_admin"],
            ),
        )
    except NotFound:
        request.session.flash(ANSWERED, "error")
        return back_to(request, "registrations")
    except ValidationFailed as error:
        state = {"failed_id": request_id, "values": values, "errors": errors_of(error)}
        return render_admin(request, 400, registrations=state)
    request.session.flash(
        f"{user.fullname} now has an account in {user.group.name}. "
        "We mailed them a link to choose a password."
    )
    return back_to(request, "registrations")


@view_config(route_name="admin", request_method="POST", request_param="action=reject_registration")
def reject_registration(request: Request) -> Response:
    require_admin(request)
    try:
        answered = registrations.reject_and_tell(
            request.dbsession, request.user, request.outbox, request.POST.get("request_id", "")
        )
    except NotFound:
        request.session.flash(ANSWERED, "error")
    else:
        request.session.flash(
            f"The request of {answered.fullname} was rejected and they were told."
        )
    return back_to(request, "registrations")
