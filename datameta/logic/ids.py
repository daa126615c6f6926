"""Finding entities by the ids clients send: a UUID or a site id."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from datameta.errors import ErrorItem, NotFound
from datameta.models.base import HasSiteId, HasUuid

Entity = TypeVar("Entity", bound=HasUuid)


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None


def id_condition(model: type[HasUuid], given: str) -> ColumnElement[bool] | None:
    """The WHERE clause matching ``given`` as UUID or (for entities that have one) site id."""
    as_uuid = parse_uuid(given)
    if as_uuid is not None:
        return model.uuid == as_uuid
    if issubclass(model, HasSiteId):
        return model.site_id == given
    return None


def find_by_id(db: Session, model: type[Entity], given: str) -> Entity | None:
    condition = id_condition(model, given)
    if condition is None:
        return None
    return db.scalar(select(model).where(condition))


def not_found(what: str, given: str) -> NotFound:
    """The error for an id that names nothing the caller may see (the id is echoed back)."""
    return NotFound(
        [
            ErrorItem(
                exception="NotFound",
                message=f"{what} {given} does not exist.",
                entity={"uuid": given, "site": given},
            )
        ]
    )


def get_by_id(db: Session, model: type[Entity], given: str, *, what: str | None = None) -> Entity:
    """The entity named by ``given``, or NotFound naming it."""
    found = find_by_id(db, model, given)
    if found is None:
        raise not_found(what or model.__name__, given)
    return found
