"""One error envelope for everything under /api: DataMeta's error list.

Domain errors, Pyramid's own HTTP errors (401, 403, 404, 405, ...) and
unexpected exceptions all answer a JSON list of
``{"exception", "error_code", "message", "entity", "field"}`` objects. A stack
trace is logged, never sent.
"""

from __future__ import annotations

import logging

from pyramid.httpexceptions import HTTPError
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config

from datameta.errors import DomainError, ErrorItem

log = logging.getLogger(__name__)

API_PATHS = r"^/api(/|$)"

# Names for Pyramid's own errors, in the style of the API's exception names.
HTTP_EXCEPTION_NAMES = {
    400: "ValidationError",
    401: "Unauthenticated",
    403: "AccessDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    413: "RequestTooLarge",
    415: "UnsupportedMediaType",
}


def error_response(status: int, items: list[ErrorItem]) -> Response:
    response = Response(status=status, json=[item.as_json() for item in items])
    response.content_type = "application/json"
    return response


@exception_view_config(DomainError, path_info=API_PATHS)
def domain_error(error: DomainError, request: Request) -> Response:
    return error_response(error.status, error.items)


@exception_view_config(HTTPError, path_info=API_PATHS)
def http_error(error: HTTPError, request: Request) -> Response:
    item = ErrorItem(
        exception=HTTP_EXCEPTION_NAMES.get(error.code, error.title.replace(" ", "")),
        message=f"{error.title}: {error.detail}" if error.detail else error.explanation,
    )
    response = error_response(error.code, [item])
    if error.code == 405 and "Allow" in error.headers:
        response.headers["Allow"] = error.headers["Allow"]
    return response


@exception_view_config(Exception, path_info=API_PATHS)
def unexpected_error(error: Exception, request: Request) -> Response:
    log.exception("unexpected error answering %s %s", request.method, request.path)
    item = ErrorItem(
        exception="InternalServerError",
        message="An unexpected error occurred. It has been logged.",
    )
    return error_response(500, [item])
