"""The submit page: sample sheets and data files in, one submission out.

The page is a client of the public API (/api/v1) only; this view hands it what
it needs to start: the caller's id and the session's CSRF token (in the page
globals), so that it can make its first request without a round trip.
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from datameta.routes import API


@view_config(route_name="submit", request_method="GET", renderer="submit.html")
def submit(request: Request) -> dict[str, Any]:
    return {"user_id": str(request.user.uuid), "api_base": API}
