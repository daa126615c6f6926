"""Prometheus metrics: requests by route, submissions, uploaded bytes, jobs waiting.

Under a server with several worker processes (datameta.serving), each process counts
for itself; prometheus_client's multiprocess mode adds them up when
``PROMETHEUS_MULTIPROC_DIR`` names an empty folder shared by the processes
(set before the app starts, emptied at each start). ``/metrics`` then reports
the sum over all processes, whichever process answers the scrape. Without the
variable, a single process reports its own counts.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "datameta_http_requests",
    "HTTP requests answered, by route name, method and status",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "datameta_http_request_duration_seconds",
    "Time from the request's arrival to its answer's headers, by route name and method",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SUBMISSIONS = Counter("datameta_submissions", "Submissions committed")
SUBMITTED_RECORDS = Counter(
    "datameta_submitted_records", "Metadata records committed in submissions"
)
UPLOADED_BYTES = Counter(
    "datameta_uploaded_bytes", "Bytes of data file content verified and recorded"
)


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    REQUEST_SECONDS.labels(route=route, method=method).observe(seconds)


def after_commit(request: Request, count: Callable[[], None]) -> None:
    """Count something once the request's transaction has committed, never for a rollback."""

    def count_if_committed(committed: bool) -> None:
        if committed:
            count()

    request.tm.get().addAfterCommitHook(count_if_committed)


def count_submission(request: Request, records: int) -> None:
    """A submission of ``records`` metadata records, counted once it is committed."""

    def count() -> None:
        SUBMISSIONS.inc()
        SUBMITTED_RECORDS.inc(records)

    after_commit(request, count)


def count_uploaded_bytes(request: Request, size: int) -> None:
    """A file's verified content of ``size`` bytes, counted once it is recorded."""
    after_commit(request, lambda: note_uploaded_bytes(size))


def note_uploaded_bytes(size: int) -> None:
    """Count a file's verified content of ``size`` bytes (its record is committed)."""
    UPLOADED_BYTES.inc(size)


class _Collected:
    """Metrics read at scrape time, once (a collector of prometheus_client)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def queue_depth_exposition(waiting: Mapping[str, int]) -> bytes:
    """The jobs waiting by queue, as read from the database now (one value for all processes)."""
    family = GaugeMetricFamily(
        "datameta_jobs_waiting",
        "Background jobs waiting to run (due, or scheduled for a retry), by queue",
        labels=["queue"],
    )
    for queue, count in sorted(waiting.items()):
        family.add_metric([queue], count)
    registry = CollectorRegistry()
    registry.register(_Collected([family]))
    return generate_latest(registry)


def read_jobs_waiting(request: Request) -> Mapping[str, int] | None:
    """The queue depth, or None while the database cannot tell (the other metrics still count)."""
    count = request.registry.get("jobs_waiting")
    if count is None:
        return None
    try:
        waiting: Mapping[str, int] = count()
    except Exception:
        log.warning("metrics: the job queue depth could not be read", exc_info=True)
        return None
    return waiting


def exposition(waiting: Mapping[str, int] | None = None) -> bytes:
    """The metrics in Prometheus' text format: of all processes in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest()
    return counted + (queue_depth_exposition(waiting) if waiting is not None else b"")


def metrics_view(request: Request) -> Response:
    """``/metrics`` for whoever presents the configured token; 404 while none is set."""
    expected = request.settings.metrics_token
    if not expected:
        raise HTTPNotFound()
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        response = Response(status=401, body=b"A valid metrics token is required.\n")
        response.content_type = "text/plain"
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = Response(body=exposition(read_jobs_waiting(request)))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


def worker_exited(pid: int) -> None:
    """Called by the server once a worker process has ended: forget its live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
