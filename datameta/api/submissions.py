"""/presubvalidation, /submissions and a group's submissions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from datameta.api.acting import act, act_on
from datameta.api.serialize import aware_utc, identifier
from datameta.db import begin_request_at
from datameta.jobs import SEARCH_TEXTS_QUEUE, WRITE_SEARCH_TEXTS, defer_with_request
from datameta.logic import submissions
from datameta.logic.ids import SiteIdentified, entity_ref
from datameta.models import Submission
from datameta.telemetry.metrics import count_submission

log = logging.getLogger(__name__)

SUBMISSION_LOCK_ID = 0x446D535375626D74
SUBMISSIONS_PATH = "/api/v1/submissions"


@contextmanager
def _turn_of(engine: Engine) -> Iterator[bool]:
    """Wait for the submission lock and hold it for the block, on a connection of its own.

    Yields whether the lock is held.
    """
    with ExitStack() as stack:
        try:
            lock_connection = stack.enter_context(engine.connect())
            lock_connection.execute(select(func.pg_advisory_xact_lock(SUBMISSION_LOCK_ID)))
        except DBAPIError as error:
            # The request meets the outage itself and answers it as every request does.
            log.warning("submission proceeds without waiting its turn: %s", error)
            yield False
        else:
            yield True
    # Closing the lock connection ended its transaction and so released the lock.


def submissions_in_turn_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    """Let one submission at a time through, each until its transaction has ended,
    and run it READ COMMITTED rather than SERIALIZABLE.

    A submission checks its site-unique values against every submitted set while
    it marks its own sets submitted. Two at once therefore form a read/write cycle
    that SERIALIZABLE aborts, and replays that start at once lose it again. A
    submission waits here for the one before it, on a connection of its own and
    before its own transaction has read anything, so it sees what that one wrote.

    Under SERIALIZABLE a large submission also lost to the stagings of other users:
    its reads of every submitted value grew PostgreSQL's predicate locks to whole
    tables, so any staging counted as a conflict, on every replay. READ COMMITTED is
    safe for it because nothing it checks can change behind it:
    - site-unique values become submitted only by submissions, and those take turns
      here: each sees every value the ones before it committed;
    - its own staged sets and files are locked (``create_submission``) before they
      are checked, so a deletion or a confirmation in progress is waited for and
      seen, and a later one waits for the submission; a set's values never change
      after staging; a SERIALIZABLE request that read a set as still staged and then
      deletes it fails on the submission's update of that row and is replayed, and
      one that deletes a file fails on the file's new link (the foreign key);
    - a file linked twice is refused by the database itself (a unique index).
    Without the lock (PostgreSQL unreachable for it) the request stays SERIALIZABLE.
    """
    engine = registry["dbengine"]

    def submissions_in_turn(request: Request) -> Response:
        if request.method != "POST" or request.path_info != SUBMISSIONS_PATH:
            return handler(request)
        with _turn_of(engine) as holds_turn:
            begin_request_at(request, "READ COMMITTED" if holds_turn else "SERIALIZABLE")
            return handler(request)

    return submissions_in_turn


def submission_json(
    submission: Submission,
    metadatasets: Sequence[SiteIdentified],
    files: Sequence[SiteIdentified],
) -> dict[str, Any]:
    """Sets and files: ORM entities, or the plain rows a new submission checked."""
    return {
        "id": identifier(submission),
        "label": submission.label,
        "metadatasetIds": [entity_ref(mset) for mset in metadatasets],
        "fileIds": [entity_ref(file) for file in files],
    }


def _request_args(request: Request) -> tuple[list[str], list[str], str | None]:
    body = request.openapi_validated.body
    return body["metadatasetIds"], body["fileIds"], body.get("label")


@view_config(route_name="api_presubvalidation", request_method="POST", openapi=True)
def validate_submission(request: Request) -> HTTPNoContent:
    act(request, submissions.validate_submission, *_request_args(request))
    return HTTPNoContent()


@view_config(route_name="api_submissions", request_method="POST", renderer="json", openapi=True)
def create_submission(request: Request) -> dict[str, Any]:
    made = act(request, submissions.create_submission, *_request_args(request))
    if made.metadatasets:
        # Committed with the submission: the worker writes the sets' search texts then.
        defer_with_request(request, WRITE_SEARCH_TEXTS, lock=None, queue=SEARCH_TEXTS_QUEUE)
    count_submission(request, len(made.metadatasets))
    return submission_json(made.submission, made.metadatasets, made.files)


@view_config(route_name="api_submission", request_method="GET", renderer="json", openapi=True)
def get_submission(request: Request) -> dict[str, Any]:
    submission = act_on(request, submissions.get_submission)
    contents = submissions.submission_contents(request.dbsession, [submission])[submission.id]
    return {
        **submission_json(submission, contents.metadatasets, contents.files),
        "date": aware_utc(submission.date),
        "groupId": identifier(submission.group),
    }


@view_config(
    route_name="api_group_submissions", request_method="GET", renderer="json", openapi=True
)
def list_group_submissions(request: Request) -> list[dict[str, Any]]:
    found = act_on(request, submissions.group_submissions)
    contents = submissions.submission_contents(request.dbsession, found)
    return [
        submission_json(
            submission, contents[submission.id].metadatasets, contents[submission.id].files
        )
        for submission in found
    ]


def _manifest_tsv(manifest: submissions.Manifest) -> str:
    """One line per file: what download and checksum tools need (header first)."""
    lines = ["name\tsize\tmd5\tsite_id\turl"]
    for download in manifest.downloads:
        file = download.file
        lines.append(
            f"{file.name}\t{file.filesize}\t{file.checksum}\t{file.site_id}\t{download.url}"
        )
    return "\n".join(lines) + "\n"


def _manifest_md5(manifest: submissions.Manifest) -> str:
    """The checksums as ``md5sum -c`` reads them: MD5, two spaces, the file's name."""
    return "".join(f"{d.file.checksum}  {d.file.name}\n" for d in manifest.downloads)


@view_config(
    route_name="api_submission_manifest", request_method="GET", renderer="json", openapi=True
)
def get_submission_manifest(request: Request) -> Response | dict[str, Any]:
    query = request.openapi_validated.parameters.query
    manifest = act_on(
        request,
        submissions.submission_manifest,
        expires_minutes=query.get("expires"),
        storage=request.storage,
        settings=request.settings,
    )
    file_format = query.get("format", "json")
    if file_format == "json":
        return {
            "submissionId": identifier(manifest.submission),
            "expiresMinutes": manifest.expires_minutes,
            "files": [
                {
                    "id": identifier(download.file),
                    "name": download.file.name,
                    "size": download.file.filesize,
                    "md5": download.file.checksum,
                    "url": download.url,
                    "expires": aware_utc(download.expires),
                }
                for download in manifest.downloads
            ],
        }
    site_id = manifest.submission.site_id
    if file_format == "tsv":
        body, name = _manifest_tsv(manifest), f"{site_id}-manifest.tsv"
        media_type = "text/tab-separated-values"
    else:
        body, name, media_type = _manifest_md5(manifest), f"{site_id}.md5", "text/plain"
    response = Response(body=body.encode(), content_type=media_type, charset="utf-8")
    response.content_disposition = f'attachment; filename="{name}"'
    return response
