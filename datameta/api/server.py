"""Server information and health: the two endpoints that need no login."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import text

from datameta.api.errors import error_response
from datameta.api.public import public_endpoint
from datameta.errors import ErrorItem
from datameta.logic.versions import API_VERSION, datameta_version

log = logging.getLogger(__name__)


@public_endpoint("api_server", "GET")
def get_server_info(request: Request) -> dict[str, str]:
    return {"apiVersion": API_VERSION, "datametaVersion": datameta_version()}


def _check_database(request: Request) -> None:
    with request.registry["dbengine"].connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_memcached(request: Request) -> None:
    request.registry["session_store"].ping()


def _check_storage(request: Request) -> None:
    request.registry["storage"].ping()


HEALTH_CHECKS: dict[str, Callable[[Request], None]] = {
    "database": _check_database,
    "memcached": _check_memcached,
    "storage": _check_storage,
}


@public_endpoint("api_health", "GET", json=False)
def get_health(request: Request) -> Response:
    """200 when PostgreSQL, memcached and S3 all answer; else 503 naming each that does not."""
    problems = []
    for component, check in HEALTH_CHECKS.items():
        try:
            check(request)
        except Exception as error:
            log.warning("health: %s is down: %s", component, error)
            problems.append(
                ErrorItem(
                    exception="ServiceUnavailable",
                    error_code=f"{component}_unavailable",
                    message=f"{component} does not respond",
                    field=component,
                )
            )
    if problems:
        return error_response(503, problems)
    response = Response(json={"status": "ok", "components": list(HEALTH_CHECKS)})
    response.content_type = "application/json"
    return response
