"""The start page."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from datameta.logic import submissions


@view_config(route_name="root", permission=NO_PERMISSION_REQUIRED)
def root(request: Request) -> HTTPFound:
    target = "home" if request.user is not None else "login"
    return HTTPFound(location=request.route_path(target))


@view_config(route_name="home", renderer="home.html")
def home(request: Request) -> dict:
    return {"recent": submissions.recent_submissions(request.dbsession, request.user)}
