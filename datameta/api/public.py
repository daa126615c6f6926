"""API endpoints anyone may call: server information, health, API keys, password, registration."""

from __future__ import annotations

from typing import Any

from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config


def public_endpoint(route_name: str, request_method: str, *, json: bool = True) -> view_config:
    """``view_config`` for an API operation that needs no login, checked against the spec.

    ``json=False`` for views that build their own response (no body, or a status of their own).
    """
    options: dict[str, Any] = {"renderer": "json"} if json else {}
    return view_config(
        route_name=route_name,
        request_method=request_method,
        openapi=True,
        permission=NO_PERMISSION_REQUIRED,
        **options,
    )
