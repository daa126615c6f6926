"""Finding entities by the ids clients send: a UUID or a site id.

The one rule of visibility lives here: an entity the caller may not see answers
exactly like an id that names nothing (NotFound, same message, same body apart
from the echoed id), so probing ids tells an outsider nothing. Only once the
caller may see an entity does the logic answer Forbidden (or NotModifiable) for
what they may not do with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from datameta.errors import ErrorItem, NotFound, NotModifiable
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


class SiteIdentified(Protocol):
    """What names an entity on the wire: an ORM entity, or a plain row of its ids."""

    @property
    def uuid(self) -> object: ...

    @property
    def site_id(self) -> str: ...


def entity_ref(entity: SiteIdentified) -> dict[str, str]:
    """An entity as errors name it: its UUID and site id."""
    return {"uuid": str(entity.uuid), "site": entity.site_id}


def not_modifiable(entity: HasSiteId) -> NotModifiable:
    """The error for changing what is frozen (submitted, or its content verified)."""
    return NotModifiable(
        [
            ErrorItem(
                exception=NotModifiable.exception_name,
                message="The resource cannot be modified",
                entity=entity_ref(entity),
            )
        ]
    )


def get_by_id(db: Session, model: type[Entity], given: str, *, what: str | None = None) -> Entity:
    """The entity named by ``given``, or NotFound naming it.

    Only for callers that may see every entity of the kind (checked before the
    look-up, e.g. site admins); everyone else goes through ``get_visible``.
    """
    found = find_by_id(db, model, given)
    if found is None:
        raise not_found(what or model.__name__, given)
    return found


def visible_or_not_found(
    found: Entity | None, given: str, may_see: Callable[[Entity], bool], what: str
) -> Entity:
    """``found`` if it exists and ``may_see`` it; else the NotFound of an unknown id."""
    if found is None or not may_see(found):
        raise not_found(what, given)
    return found


def get_visible(
    db: Session,
    model: type[Entity],
    given: str,
    may_see: Callable[[Entity], bool],
    *,
    what: str | None = None,
) -> Entity:
    """The entity named by ``given`` if the caller ``may_see`` it, else NotFound as if unknown."""
    found = find_by_id(db, model, given)
    return visible_or_not_found(found, given, may_see, what or model.__name__)
