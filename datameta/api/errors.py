"""One error envelope for everything under /api: DataMeta's error list.

Domain errors, Pyramid's own HTTP errors (401, 403, 404, 405, ...) and
unexpected exceptions all answer a JSON list of
``{"exception", "error_code", "message", "entity", "field"}`` objects (keys
without a value left out). A stack
trace is logged, never sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

from openapi_core.validation.request.exceptions import (
    ParameterValidationError,
    SecurityValidationError,
)
from pyramid.exceptions import PredicateMismatch
from pyramid.httpexceptions import HTTPError, HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config

from datameta.db import (
    is_database_outage,
    is_serialization_failure,
    is_statement_timeout,
    retry_if_possible,
)
from datameta.errors import DomainError, ErrorItem, ServiceUnavailable

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


def allowed_methods(request: Request) -> list[str]:
    """The methods the views of the matched route answer, from Pyramid's introspector."""
    introspector = request.registry.introspector
    route = introspector.get("routes", request.matched_route.name)
    methods: set[str] = set()
    for view in introspector.related(route) if route is not None else []:
        if view.category_name == "views":
            declared = view["request_methods"]
            methods.update([declared] if isinstance(declared, str) else declared or [])
    return sorted(methods)


@exception_view_config(PredicateMismatch, path_info=API_PATHS)
def method_not_allowed(error: PredicateMismatch, request: Request) -> Response:
    """A known path with a method none of its views answers: 405, not 404."""
    allowed = allowed_methods(request) if request.matched_route is not None else []
    if not allowed or request.method in allowed:
        return http_error(error, request)
    item = ErrorItem(
        exception="MethodNotAllowed",
        message=f"{request.method} is not allowed here; use {', '.join(allowed)}.",
    )
    response = error_response(405, [item])
    response.headers["Allow"] = ", ".join(allowed)
    return response


@exception_view_config(HTTPForbidden, path_info=API_PATHS)
def forbidden(error: HTTPForbidden, request: Request) -> Response:
    """A view's permission was denied: 401 for nobody, 403 for somebody."""
    if request.user is None:
        item = ErrorItem(
            exception="Unauthenticated",
            message="This endpoint needs a valid API key or a login session.",
        )
        return error_response(401, [item])
    item = ErrorItem(exception="AccessDenied", message="You may not do this.")
    return error_response(403, [item])


def unavailable_response(component: str) -> Response:
    """503 naming the component that does not answer, as the health check names it."""
    item = ErrorItem(
        exception="ServiceUnavailable",
        error_code=f"{component}_unavailable",
        message=f"{component} is temporarily unavailable; nothing was changed. Please try again.",
        field=component,
    )
    return error_response(503, [item])


@exception_view_config(ServiceUnavailable, path_info=API_PATHS)
def service_unavailable(error: ServiceUnavailable, request: Request) -> Response:
    log.warning("%s %s: %s", request.method, request.path, error)
    return unavailable_response(error.component)


@exception_view_config(Exception, path_info=API_PATHS)
def unexpected_error(error: Exception, request: Request) -> Response:
    retry_if_possible(request, error)
    if is_serialization_failure(error):
        item = ErrorItem(
            exception="ConcurrentModification",
            message="A concurrent request changed the same data. Please try again.",
        )
        return error_response(409, [item])
    if is_statement_timeout(error):
        log.warning("%s %s: statement timeout: %s", request.method, request.path, error)
        item = ErrorItem(
            exception="ServiceUnavailable",
            error_code="statement_timeout",
            message="Finding these sets took longer than this site allows; nothing was "
            "changed. Narrow the search (more or longer words, filters) and try again.",
        )
        return error_response(503, [item])
    if is_database_outage(error):
        log.warning("%s %s: database unavailable: %s", request.method, request.path, error)
        return unavailable_response("database")
    log.exception("unexpected error answering %s %s", request.method, request.path)
    item = ErrorItem(
        exception="InternalServerError",
        message="An unexpected error occurred. It has been logged.",
    )
    return error_response(500, [item])


_REQUIRED = re.compile(r"^'(?P<name>[^']+)' is a required property$")
_UNEXPECTED = re.compile(r"\('(?P<names>.+)' (?:was|were) unexpected\)")


def _schema_error_field(schema_error: Exception) -> str | None:
    """The request field a JSON schema error is about, as a dotted path."""
    path = [str(part) for part in getattr(schema_error, "path", [])]
    message = getattr(schema_error, "message", "")
    validator = getattr(schema_error, "validator", None)
    if validator == "required" and (match := _REQUIRED.match(message)):
        path.append(match["name"])
    elif validator == "additionalProperties" and (match := _UNEXPECTED.search(message)):
        path.append(match["names"].replace("', '", ","))
    return ".".join(path) or None


def openapi_error_items(errors: Iterable[Exception]) -> Iterator[ErrorItem]:
    """DataMeta error items for what OpenAPI request validation found."""
    for error in errors:
        schema_errors = getattr(error.__cause__, "schema_errors", None)
        if isinstance(error, ParameterValidationError):
            # A query, path or header parameter: the field is the parameter's name.
            messages = [getattr(e, "message", str(e)) for e in schema_errors or []]
            for message in messages or [str(error)]:
                yield ErrorItem(message=message, field=error.name)
        elif schema_errors:
            for schema_error in schema_errors:
                yield ErrorItem(
                    message=getattr(schema_error, "message", str(schema_error)),
                    field=_schema_error_field(schema_error),
                )
        elif isinstance(error, SecurityValidationError):
            yield ErrorItem(
                exception="Unauthenticated",
                message="This endpoint needs an API key or a login session.",
            )
        else:
            yield ErrorItem(message=str(error))
