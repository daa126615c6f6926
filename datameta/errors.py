"""Domain errors, raised by the logic and turned into HTTP answers at the edge.

Each error carries a list of ``ErrorItem``s, the shape of DataMeta's API error
list, so that one request can report every problem it found at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorItem:
    message: str
    exception: str = "ValidationError"
    error_code: str | None = None
    entity: dict[str, str] | None = None
    field: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The wire form: a key whose value is absent is left out, never sent as null.

        DataMeta's published ``Error`` schema allows no nulls; clients generated from it
        refuse ``"field": null``.
        """
        wire = {
            "exception": self.exception,
            "error_code": self.error_code,
            "message": self.message,
            "entity": self.entity,
            "field": self.field,
        }
        return {key: value for key, value in wire.items() if value is not None}


class DomainError(Exception):
    """Base of every error the logic raises on purpose.

    A subclass states its HTTP status and the ``exception`` name its error items carry
    in its class line: ``class NotFound(DomainError, status=404, exception_name="NotFound")``.
    """

    status = 400
    exception_name = "ValidationError"

    def __init_subclass__(
        cls, status: int | None = None, exception_name: str | None = None
    ) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if exception_name is not None:
            cls.exception_name = exception_name

    def __init__(self, items: list[ErrorItem] | str) -> None:
        if isinstance(items, str):
            items = [ErrorItem(message=items, exception=self.exception_name)]
        self.items = items
        super().__init__("; ".join(item.message for item in items))


class ValidationFailed(DomainError):
    """Input that breaks a rule; each item names the field and, for records, the entity."""


class Unauthenticated(DomainError, status=401, exception_name="Unauthenticated"):
    """No valid credentials: a missing, wrong or expired key, token or password."""


class Forbidden(DomainError, status=403, exception_name="AccessDenied"):
    """The actor may see the object but not do this to it."""


class WrongPassword(Forbidden):
    """A wrong current password from a logged-in user: it counted towards the lockout.

    The caller answers it and commits despite the error, so the count is kept.
    """


class NotModifiable(DomainError, status=403, exception_name="ResourceNotModifiableError"):
    """The object may be read but no longer changed, such as a submitted metadataset."""


class NotFound(DomainError, status=404, exception_name="NotFound"):
    """Unknown, or not visible to the actor: the two answer alike, so ids leak nothing."""


class Conflict(DomainError, status=409, exception_name="Conflict"):
    """The request does not fit the current state (a closed upload window, a taken name)."""


class Gone(DomainError, status=410, exception_name="Gone"):
    """A link that was valid once but has expired."""


class ServiceUnavailable(Exception):
    """A service the app needs (``component``) does not answer: the request answers 503.

    Raised by the adapters, never by the logic; the message is for the log only.
    """

    component = "service"
