"""/samplesheets: import a whole sample sheet in one request."""

from __future__ import annotations

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config

from datameta.api.streaming import uploaded_file
from datameta.config import parse_bool
from datameta.errors import ErrorItem, ValidationFailed
from datameta.logic.samplesheets import SheetReport, import_sample_sheet
from datameta.samplesheet import MAX_BYTES


def report_json(report: SheetReport) -> dict[str, Any]:
    return {
        "dryRun": report.dry_run,
        "rowsRead": report.rows_read,
        "staged": [{"uuid": str(ref.uuid), "site": ref.site_id} for ref in report.staged],
        "rejected": [
            {
                "row": rejected.row,
                "errors": [
                    {"field": problem.column, "value": problem.value, "message": problem.message}
                    for problem in rejected.problems
                ],
            }
            for rejected in report.rejected
        ],
    }


def _sheet_bytes(request: Request) -> bytes:
    """The uploaded file's content, read with a bound (the sheet must fit in memory)."""
    too_large = ValidationFailed(
        [ErrorItem(message=f"The file is larger than {MAX_BYTES // 2**20} MiB.", field="file")]
    )
    if (request.content_length or 0) > MAX_BYTES + 65536:
        raise too_large
    data = uploaded_file(request).read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise too_large
    return data


# The body is read as a bounded stream here, not by the OpenAPI layer (which would
# hold it twice); the answer's shape is checked against the spec in the tests.
@view_config(route_name="api_samplesheets", request_method="POST", renderer="json")
def upload_sample_sheet(request: Request) -> dict[str, Any]:
    try:
        dry_run = parse_bool(request.GET.get("dryRun", "false"))
    except ValueError:
        raise ValidationFailed(
            [ErrorItem(message="dryRun must be true or false.", field="dryRun")]
        ) from None
    report = import_sample_sheet(
        request.dbsession, request.user, _sheet_bytes(request), dry_run=dry_run
    )
    return report_json(report)
