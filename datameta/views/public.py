"""Pages anyone may open: signing in, setting a password, asking for an account."""

from __future__ import annotations

from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config


def public_page(route_name: str, request_method: str, renderer: str) -> view_config:
    """``view_config`` for a form page that needs no login (GET shows it, POST sends it)."""
    return view_config(
        route_name=route_name,
        request_method=request_method,
        renderer=renderer,
        permission=NO_PERMISSION_REQUIRED,
    )
