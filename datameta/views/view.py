"""The View page: submitted metadatasets found, sorted, paged, exported and downloaded.

The page is a client of the public API (/api/v1) only, like the submit page: the
listing, its filters, sort order and exports are GET /metadatasets's parameters.
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from datameta.routes import API


@view_config(route_name="view", request_method="GET", renderer="view.html")
def view(request: Request) -> dict[str, Any]:
    return {"api_base": API}
