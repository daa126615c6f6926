"""Error pages: what a person sees when something is missing, forbidden or broken."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken
from pyramid.httpexceptions import (
    HTTPForbidden,
    HTTPFound,
    HTTPNotFound,
    HTTPRequestEntityTooLarge,
)
from pyramid.renderers import render, render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config

from datameta.db import is_database_outage, retry_if_possible
from datameta.errors import DomainError, ServiceUnavailable

log = logging.getLogger(__name__)

PAGES = r"^/(?!api(/|$))"


def render_error(request: Request, status: int, title: str, message: str) -> Response:
    response = request.response
    response.status = status
    return render_to_response(
        "error.html", {"title": title, "message": message}, request=request, response=response
    )


@exception_view_config(HTTPForbidden, path_info=PAGES)
def forbidden_page(error: HTTPForbidden, request: Request) -> Response:
    """Not logged in: off to the login page, and back here afterwards."""
    if request.user is None:
        query = urlencode({"next": request.path_qs}) if request.method == "GET" else ""
        return HTTPFound(location=request.route_path("login") + (f"?{query}" if query else ""))
    return render_error(request, 403, "Not allowed", "You may not open this page.")


@exception_view_config(HTTPNotFound, path_info=PAGES)
def not_found_page(error: HTTPNotFound, request: Request) -> Response:
    return render_error(request, 404, "Page not found", "There is no page at this address.")


@exception_view_config(HTTPRequestEntityTooLarge, path_info=PAGES)
def too_large_page(error: HTTPRequestEntityTooLarge, request: Request) -> Response:
    message = error.detail or "The request is too large."
    return render_error(request, 413, "Too much at once", message)


@exception_view_config(BadCSRFToken, path_info=PAGES)
@exception_view_config(BadCSRFOrigin, path_info=PAGES)
def bad_csrf_page(error: Exception, request: Request) -> Response:
    return render_error(
        request,
        400,
        "The form has expired",
        "Please go back, reload the page and try again.",
    )


@exception_view_config(DomainError, path_info=PAGES)
def domain_error_page(error: DomainError, request: Request) -> Response:
    return render_error(request, error.status, "That did not work", str(error))


def unavailable_page(component: str) -> Response:
    """503 "temporarily unavailable", rendered without the session, the user or the database."""
    body = render("unavailable.html", {"component": component}, request=None)
    response = Response(status=503, content_type="text/html", charset="utf-8")
    response.text = body
    response.headers["Retry-After"] = "60"
    return response


@exception_view_config(ServiceUnavailable, path_info=PAGES)
def service_unavailable_page(error: ServiceUnavailable, request: Request) -> Response:
    log.warning("%s %s: %s", request.method, request.path, error)
    return unavailable_page(error.component)


@exception_view_config(Exception, path_info=PAGES)
def unexpected_error_page(error: Exception, request: Request) -> Response:
    retry_if_possible(request, error)
    if is_database_outage(error):
        log.warning("%s %s: database unavailable: %s", request.method, request.path, error)
        return unavailable_page("database")
    log.exception("unexpected error answering %s %s", request.method, request.path)
    return render_error(
        request, 500, "Something went wrong", "An unexpected error occurred. It has been logged."
    )
