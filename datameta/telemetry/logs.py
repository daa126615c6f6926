"""Structured logs: one JSON object per line, each carrying the request it belongs to.

The request id and the client's address live in a context variable that the
request tween sets, so that every line logged while a request is served (an
access line, a security event, a stack trace) names the request without the
code that logs knowing about requests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

access_log = logging.getLogger("datameta.access")
security_log = logging.getLogger("datameta.security")

# Fields that describe the request being served: request_id, client.
_request_context: ContextVar[dict[str, str] | None] = ContextVar(
    "datameta_request_context", default=None
)

# An incoming X-Request-ID is kept when it looks like an id (a proxy's or a client's),
# so that one id follows the request through every log; anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def is_sane_request_id(value: str | None) -> bool:
    """Whether a client's request id may be logged and echoed as it is."""
    return value is not None and _SANE_REQUEST_ID.fullmatch(value) is not None


@contextmanager
def request_context(fields: dict[str, str]) -> Iterator[None]:
    """Every line logged inside the ``with`` block carries ``fields`` (and what joins them)."""
    token = _request_context.set(fields)
    try:
        yield
    finally:
        _request_context.reset(token)


def current_request_id() -> str | None:
    context = _request_context.get()
    return None if context is None else context.get("request_id")


def note_user(site_id: str) -> None:
    """The request being served acts for the user ``site_id``: later lines name them."""
    context = _request_context.get()
    if context is not None:
        context["user"] = site_id


class JsonFormatter(_LibraryJsonFormatter):
    """python-json-logger's formatter, adding the fields of the request being served."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        for name, value in (_request_context.get() or {}).items():
            log_data.setdefault(name, value)


def security_event(event: str, message: str, *, warning: bool = False, **fields: Any) -> None:
    """Log a security event: ``event`` is a stable name to filter on, ``fields`` its details.

    Events: login, login_failed, lockout, apikey_created, apikey_deleted,
    registration_accepted, registration_rejected.
    """
    level = logging.WARNING if warning else logging.INFO
    security_log.log(level, message, extra={"event": event, **fields})
