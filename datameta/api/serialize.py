"""The JSON shapes of the API's entities, exactly as DataMeta 1.x clients expect them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from datameta.models.base import HasSiteId, HasUuid


def identifier(entity: HasUuid | None) -> dict[str, str] | None:
    """``{"uuid", "site"}``; entities without a site id have no ``site`` key at all."""
    if entity is None:
        return None
    result = {"uuid": str(entity.uuid)}
    if isinstance(entity, HasSiteId):
        result["site"] = entity.site_id
    return result


def naive_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC without an offset, the form DataMeta 1.x uses for expiry times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def aware_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def group_json(group: Any) -> dict[str, Any]:
    return {"id": identifier(group), "name": group.name}
