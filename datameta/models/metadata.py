"""Metadata definitions (the sample sheet's columns) and the services that fill some of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .accounts import User
from .base import Base, HasSiteId, HasUuid, created_column

service_user = Table(
    "service_user",
    Base.metadata,
    Column("service_id", ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Service(HasSiteId, Base):
    """A pipeline (e.g. quality control) that fills its target metadata after submission."""

    __tablename__ = "services"
    site_id_entity = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)

    users: Mapped[list[User]] = relationship(secondary=service_user, order_by=User.id)
    target_metadata: Mapped[list[MetaDatum]] = relationship(back_populates="service")

    __table_args__ = (CheckConstraint("btrim(name) <> ''", name="name_not_blank"),)


class MetadataVersion(Base):
    """One row: a number that a trigger changes with every change to ``metadata``.

    Processes that keep the definitions in memory compare it with the one they loaded.
    """

    __tablename__ = "metadata_version"

    id: Mapped[bool] = mapped_column(primary_key=True, server_default=true())
    version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("id", name="one_row"),)


# Where a session keeps the version of the definitions that its transaction sees, when a
# statement read it along with something else (the caller's API key): reading the
# definitions then needs no statement of its own (see ``logic.metadata.definitions``).
DEFINITIONS_VERSION_KEY = "datameta.definitions_version"


def note_definitions_version(session: Session, version: int | None) -> None:
    """The definitions' version as ``session``'s transaction sees it, read in passing."""
    session.info[DEFINITIONS_VERSION_KEY] = version


class MetaDatum(HasUuid, Base):
    """One column of the sample sheet and the rules its values obey."""

    __tablename__ = "metadata"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    regexp: Mapped[str | None] = mapped_column(Text)
    # Shown as the validation message when a value does not match regexp.
    short_description: Mapped[str | None] = mapped_column(Text)
    long_description: Mapped[str | None] = mapped_column(Text)
    example: Mapped[str] = mapped_column(Text, default="", server_default="")
    datetimefmt: Mapped[str | None] = mapped_column(Text)
    mandatory: Mapped[bool] = mapped_column(default=False, server_default="false")
    order: Mapped[int] = mapped_column(default=0, server_default="0")
    isfile: Mapped[bool] = mapped_column(default=False, server_default="false")
    submission_unique: Mapped[bool] = mapped_column(default=False, server_default="false")
    site_unique: Mapped[bool] = mapped_column(default=False, server_default="false")
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)

    service: Mapped[Service | None] = relationship(back_populates="target_metadata")

    __table_args__ = (CheckConstraint("btrim(name) <> ''", name="name_not_blank"),)


class ServiceExecution(HasUuid, Base):
    """A service reported its values for one metadataset; each service runs once per set."""

    __tablename__ = "serviceexecutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    metadataset_id: Mapped[int] = mapped_column(ForeignKey("metadatasets.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    execution_time: Mapped[datetime] = created_column()

    service: Mapped[Service] = relationship()
    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("service_id", "metadataset_id"),)
