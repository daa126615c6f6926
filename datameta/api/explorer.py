"""The interactive explorer of the API at /api/v1, served from our own static files."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config


@view_config(
    route_name="api_explorer", renderer="api_explorer.html", permission=NO_PERMISSION_REQUIRED
)
def show_explorer(request: Request) -> dict:
    return {
        "spec_url": request.route_path("api_spec"),
        "csrf_token": request.session.get_csrf_token(),
    }


@view_config(route_name="api_root", permission=NO_PERMISSION_REQUIRED)
def redirect_to_explorer(request: Request) -> HTTPFound:
    return HTTPFound(location=request.route_path("api_explorer"))
