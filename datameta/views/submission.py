"""The submission page: one submission's records and files, and how to download them.

Like the View page it is a client of the public API; this view only answers 404
for a submission the caller may not read, exactly as for an unknown one.
"""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from datameta.logic import submissions
from datameta.routes import API


@view_config(route_name="submission", request_method="GET", renderer="submission.html")
def submission_page(request: Request) -> dict[str, Any]:
    submission = submissions.get_submission(
        request.dbsession, request.user, request.matchdict["id"]
    )
    return {"api_base": API, "submission": submission}
