"""/metadatasets: staging, reading and deleting sample-sheet rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import Select
from sqlalchemy.orm import Session

from datameta.api.exports import MEDIA_TYPES, export_bytes
from datameta.api.express import ExpressCall
from datameta.api.serialize import (
    TableLayout,
    export_header,
    export_json,
    exported_columns,
    listing_json,
    listing_layout,
    metadataset_json,
    record_columns,
)
from datameta.api.streaming import json_array
from datameta.config import settings_of
from datameta.db import body_session, limit_statement_time
from datameta.logic import metadatasets
from datameta.logic.metadata import definitions
from datameta.logic.metadatasets import DEFAULT_PAGE_SIZE, MetadatasetView, SubmittedQuery
from datameta.models import MetaDataSet, User
from datameta.security import authz


def metadatasets_json(
    request: Request, sets: Sequence[MetaDataSet], *, iso_dates: bool | None = None
) -> list[dict]:
    """Serialize many sets with a fixed number of queries.

    Dates are in each column's format unless ``iso_dates`` (default: the ``isoDates``
    query parameter).
    """
    return views_json(request, metadatasets.load_views(request.dbsession, sets), iso_dates)


def views_json(
    request: Request, views: Sequence[MetadatasetView], iso_dates: bool | None = None
) -> list[dict]:
    if iso_dates is None:
        iso_dates = bool(request.openapi_validated.parameters.query.get("isoDates", False))
    return sets_json(request.dbsession, request.user, views, iso_dates=iso_dates)


def sets_json(
    db: Session, actor: User, views: Sequence[MetadatasetView], *, iso_dates: bool
) -> list[dict]:
    columns = record_columns(definitions(db).all)
    show_service_values = authz.can_read_service_values(actor)
    return [
        metadataset_json(
            view, columns, show_service_values=show_service_values, iso_dates=iso_dates
        )
        for view in views
    ]


def stage_one(db: Session, actor: User, record: dict[str, Any]) -> dict[str, Any]:
    staged = metadatasets.stage_record_views(db, actor, [record])
    # Staging answers the stored ISO values, as DataMeta 1.1.1 does: its clients turn a
    # bare date into a date object they cannot print, but print an ISO date-time fine.
    return sets_json(db, actor, staged, iso_dates=True)[0]


@view_config(route_name="api_metadatasets", request_method="POST", renderer="json", openapi=True)
def create_metadataset(request: Request) -> dict[str, Any]:
    return stage_one(request.dbsession, request.user, request.openapi_validated.body["record"])


def express_staging(call: ExpressCall) -> dict[str, Any]:
    """``create_metadataset`` in the express lane."""
    return stage_one(call.db, call.user, call.body["record"])


@view_config(route_name="api_metadatasets", request_method="GET", renderer="json", openapi=True)
def list_submitted_metadatasets(request: Request) -> Response | list[dict[str, Any]]:
    """One page with ``limit`` or ``offset``; else every set, as DataMeta 1.x answers.

    With ``format``, an export of the same sets (streamed) instead of the 1.x JSON.
    """
    # A runaway search is cancelled (503) rather than keep the database busy.
    limit_statement_time(request.dbsession, _statement_timeout(request))
    params = request.openapi_validated.parameters.query
    query = SubmittedQuery(
        submitted_after=params.get("submittedAfter"),
        submitted_before=params.get("submittedBefore"),
        awaiting_service=params.get("awaitingService"),
        limit=params.get("limit", DEFAULT_PAGE_SIZE),
        offset=params.get("offset", 0),
        search=params.get("q"),
        filters=tuple(params.get("filter", ())),
        submission_id=params.get("submissionId"),
        group_id=params.get("groupId"),
        user_id=params.get("userId"),
        sort=params.get("sort"),
    )
    paged = "limit" in request.GET or "offset" in request.GET
    file_format = params.get("format")
    if file_format is not None:
        if not paged:
            statement = metadatasets.submitted_statement(request.dbsession, request.user, query)
            return _export(request, statement, file_format)
        total = metadatasets.count_submitted(request.dbsession, request.user, query)
        one_page = metadatasets.page_statement(request.dbsession, request.user, query, total)
        response = _export(request, one_page, file_format)
        response.headers["X-Total-Count"] = str(total)
        return response
    if paged:
        page, total = metadatasets.query_submitted(request.dbsession, request.user, query)
        request.response.headers["X-Total-Count"] = str(total)
        return metadatasets_json(request, page)
    statement = metadatasets.submitted_statement(request.dbsession, request.user, query)
    return Response(app_iter=_streamed(request, statement), content_type="application/json")


def _statement_timeout(request: Request) -> int:
    return settings_of(request.registry).listing_statement_timeout_ms


@contextmanager
def _listing_session(request: Request) -> Iterator[Session]:
    """``body_session`` whose statements the listing's time limit holds too."""
    with body_session(request) as db:
        limit_statement_time(db, _statement_timeout(request))
        yield db


_Batch = TypeVar("_Batch")


def _primed(batches: Iterator[_Batch]) -> Iterator[_Batch]:
    """``batches``, the first read at once, in the view.

    The first batch costs the most (the statement's sort): a statement timeout (or
    any other error) there answers an error status instead of a body cut short.
    """
    first = next(batches, None)

    def all_batches() -> Iterator[_Batch]:
        try:
            if first is not None:
                yield first
            yield from batches
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    return all_batches()


def _streamed(request: Request, statement: Select) -> Iterator[bytes]:
    """The JSON of every set ``statement`` selects, read and sent batch by batch."""
    # Decided now: the request's user and parameters are not to be read once it has ended.
    layout = listing_layout(
        record_columns(definitions(request.dbsession).all),
        show_service_values=authz.can_read_service_values(request.user),
        iso_dates=bool(request.openapi_validated.parameters.query.get("isoDates", False)),
    )

    def batches() -> Iterator[list[dict[str, Any]]]:
        with _listing_session(request) as db:
            for rows in metadatasets.listing_rows(
                db, statement, layout.column_ids, layout.file_column_ids
            ):
                executions = {}
                if layout.service_columns:
                    executions = metadatasets.executions_by_set(db, [row[0] for row in rows])
                yield [listing_json(row, layout, executions.get(row[0], {})) for row in rows]

    return json_array(_primed(batches()))


def _export(request: Request, statement: Select, file_format: str) -> Response:
    """The sets ``statement`` selects as a file, read and written batch by batch."""
    show_service_values = authz.can_read_service_values(request.user)
    iso_dates = bool(request.openapi_validated.parameters.query.get("isoDates", False))
    columns = record_columns(definitions(request.dbsession).all)
    header = export_header(columns, show_service_values=show_service_values)
    shown = exported_columns(columns, show_service_values=show_service_values)

    def rows() -> Iterator[list[list[str | None]]]:
        # Plain rows from one statement: no ORM objects per set.
        layout = TableLayout(shown, iso_dates=iso_dates)
        with _listing_session(request) as db:
            for batch in metadatasets.export_rows(
                db,
                statement,
                [column.id for column in shown],
                [column.id for column in shown if column.is_file],
            ):
                yield [layout.cells(row) for row in batch]

    def items() -> Iterator[list[dict[str, Any]]]:
        with _listing_session(request) as db:
            for views in metadatasets.stream_views(db, statement, with_groups=True):
                yield [
                    export_json(
                        view,
                        columns,
                        show_service_values=show_service_values,
                        iso_dates=iso_dates,
                    )
                    for view in views
                ]

    media_type = MEDIA_TYPES[file_format]
    batches: Iterator[list[Any]] = _primed(items() if file_format == "json" else rows())
    response = Response(
        app_iter=export_bytes(file_format, header, batches),
        content_type=media_type,
        charset="utf-8" if media_type.startswith("text/") else None,
    )
    response.content_disposition = f'attachment; filename="metadatasets.{file_format}"'
    return response


@view_config(route_name="api_metadataset", request_method="GET", renderer="json", openapi=True)
def get_metadataset(request: Request) -> dict[str, Any]:
    metadataset = metadatasets.get_metadataset(
        request.dbsession, request.user, request.matchdict["id"]
    )
    return metadatasets_json(request, [metadataset])[0]


@view_config(route_name="api_metadataset", request_method="DELETE", openapi=True)
def delete_metadataset(request: Request) -> HTTPNoContent:
    metadatasets.delete_metadatasets(request.dbsession, request.user, [request.matchdict["id"]])
    return HTTPNoContent()


@view_config(route_name="api_delete_metadatasets", request_method="POST", openapi=True)
def delete_metadatasets(request: Request) -> HTTPNoContent:
    ids = request.openapi_validated.body["metadatasetIds"]
    metadatasets.delete_metadatasets(request.dbsession, request.user, ids)
    return HTTPNoContent()


@view_config(
    route_name="api_pending_metadatasets", request_method="GET", renderer="json", openapi=True
)
def list_pending_metadatasets(request: Request) -> list[dict[str, Any]]:
    staged = metadatasets.pending_metadatasets(
        request.dbsession, request.user, request.matchdict["id"]
    )
    return metadatasets_json(request, staged)
