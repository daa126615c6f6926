"""/presubvalidation, /submissions and a group's submissions."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config

from datameta.api.serialize import aware_utc, identifier
from datameta.logic.submissions import (
    SubmissionContents,
    create_submission,
    get_submission,
    group_submissions,
    submission_contents,
    validate_submission,
)
from datameta.models import Submission


def submission_json(submission: Submission, contents: SubmissionContents) -> dict[str, Any]:
    return {
        "id": identifier(submission),
        "label": submission.label,
        "metadatasetIds": [identifier(mset) for mset in contents.metadatasets],
        "fileIds": [identifier(file) for file in contents.files],
    }


def _request_args(request: Request) -> tuple[list[str], list[str], str | None]:
    body = request.openapi_validated.body
    return body["metadatasetIds"], body["fileIds"], body.get("label")


@view_config(route_name="api_presubvalidation", request_method="POST", openapi=True)
def prevalidate(request: Request) -> HTTPNoContent:
    validate_submission(request.dbsession, request.user, *_request_args(request))
    return HTTPNoContent()


@view_config(route_name="api_submissions", request_method="POST", renderer="json", openapi=True)
def submit(request: Request) -> dict[str, Any]:
    submission = create_submission(request.dbsession, request.user, *_request_args(request))
    contents = submission_contents(request.dbsession, [submission])[submission.id]
    return submission_json(submission, contents)


@view_config(route_name="api_submission", request_method="GET", renderer="json", openapi=True)
def get_one(request: Request) -> dict[str, Any]:
    submission = get_submission(request.dbsession, request.user, request.matchdict["id"])
    contents = submission_contents(request.dbsession, [submission])[submission.id]
    return {
        **submission_json(submission, contents),
        "date": aware_utc(submission.date),
        "groupId": identifier(submission.group),
    }


@view_config(
    route_name="api_group_submissions", request_method="GET", renderer="json", openapi=True
)
def of_group(request: Request) -> list[dict[str, Any]]:
    submissions = group_submissions(request.dbsession, request.user, request.matchdict["id"])
    contents = submission_contents(request.dbsession, submissions)
    return [submission_json(submission, contents[submission.id]) for submission in submissions]
