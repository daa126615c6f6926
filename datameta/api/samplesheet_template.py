"""/samplesheets/template: a sample-sheet template made from the current definitions."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from datameta.logic.metadata import submitter_columns
from datameta.samplesheet_template import tsv_template, xlsx_template

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TSV_TYPE = "text/tab-separated-values"
FILENAME = "datameta-samplesheet"


@view_config(route_name="api_samplesheet_template", request_method="GET", openapi=True)
def get_samplesheet_template(request: Request) -> Response:
    file_format = request.openapi_validated.parameters.query.get("format", "xlsx")
    columns = submitter_columns(request.dbsession)
    if file_format == "tsv":
        response = Response(
            body=tsv_template(columns).encode("utf-8"), content_type=TSV_TYPE, charset="utf-8"
        )
    else:
        response = Response(body=xlsx_template(columns), content_type=XLSX_TYPE, charset=None)
    response.content_disposition = f'attachment; filename="{FILENAME}.{file_format}"'
    return response
