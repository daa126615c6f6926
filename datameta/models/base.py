"""Declarative base, constraint naming and the identity columns every API entity has."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, String, Uuid, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Alembic autogenerate and `alembic check` need deterministic constraint names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def utcnow() -> datetime:
    return datetime.now(UTC)


def uuid_column() -> Mapped[uuid.UUID]:
    return mapped_column(
        Uuid,
        unique=True,
        nullable=False,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
    )


def created_column() -> Mapped[datetime]:
    return mapped_column(nullable=False, default=utcnow, server_default=func.now())


class HasUuid:
    """An entity the API names by ``{"uuid": ...}``."""

    uuid: Mapped[uuid.UUID] = uuid_column()


class HasSiteId(HasUuid):
    """An entity the API names by ``{"uuid": ..., "site": ...}``.

    ``site_id`` is filled at flush time from a per-entity PostgreSQL sequence
    (see ``datameta.models.siteids``), so ids never collide and are never retried.
    """

    # Which entry of the datameta.site_id_* settings (and which sequence) applies.
    site_id_entity: str

    site_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
