"""Logs and metrics of every request: a request id, one JSON access line, Prometheus counts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.tweens import INGRESS

from datameta.telemetry.logs import access_log, is_sane_request_id, request_context
from datameta.telemetry.metrics import metrics_view, observe_request

REQUEST_ID_HEADER = "X-Request-ID"
# Requests that matched no route share one label, so that probing random paths cannot
# grow the metrics without bound. Routes are named, never the path: paths hold tokens.
UNMATCHED = "unmatched"


def _route_name(request: Request) -> str:
    route = getattr(request, "matched_route", None)
    return route.name if route is not None else UNMATCHED


def request_telemetry_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    """Outermost: the duration includes the commit, the status that of error answers."""

    def request_telemetry_tween(request: Request) -> Response:
        request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER))
        fields = {"request_id": request_id, "client": request.client_addr or ""}
        started = time.perf_counter()
        status = 500  # what the server answers when an exception escapes the app
        with request_context(fields):
            try:
                response = handler(request)
                status = response.status_int
                response.headers[REQUEST_ID_HEADER] = request_id
                return response
            finally:
                _record(request, status, time.perf_counter() - started, fields)

    return request_telemetry_tween


def _record(request: Request, status: int, seconds: float, fields: dict[str, str]) -> None:
    record_request(_route_name(request), request.method, status, seconds, fields)


def record_request(
    route: str, method: str, status: int, seconds: float, fields: dict[str, str]
) -> None:
    """Count the request and write its access line (``fields``: its logging context)."""
    observe_request(route, method, status, seconds)
    access_log.info(
        "%s %s %d %.1f ms",
        method,
        route,
        status,
        seconds * 1000,
        extra={
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            # The user's site id, once authentication named one (see note_user).
            "user": fields.get("user"),
        },
    )


def request_id_of(incoming: str | None) -> str:
    """The client's request id if it is a sane one, else a new one."""
    return incoming if incoming is not None and is_sane_request_id(incoming) else uuid.uuid4().hex


def includeme(config: Configurator) -> None:
    config.add_tween("datameta.telemetry.request_telemetry_tween_factory", under=INGRESS)
    # Not public: Prometheus presents the token of datameta.metrics.token (see metrics_view).
    config.add_view(
        metrics_view, route_name="metrics", request_method="GET", permission=NO_PERMISSION_REQUIRED
    )
