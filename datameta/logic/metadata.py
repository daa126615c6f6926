"""Metadata definitions: the columns of the sample sheet, defined by site admins at runtime."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import delete, event, exists, func, null, select
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from datameta.errors import Conflict, ErrorItem, Forbidden, ValidationFailed
from datameta.linting import Column, InvalidPattern, compile_pattern, datetime_format_problem
from datameta.linting.submission import stored_value_problem
from datameta.logic.ids import get_by_id
from datameta.models import MetaDataSet, MetadataVersion, MetaDatum, MetaDatumRecord, Service, User
from datameta.models.metadata import DEFINITIONS_VERSION_KEY
from datameta.security import authz

MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class DefinitionInput:
    """A definition as an admin submits it."""

    name: str
    regex_description: str | None
    long_description: str | None
    example: str
    regexp: str | None
    datetime_format: str | None
    mandatory: bool
    order: int
    is_file: bool
    submission_unique: bool
    site_unique: bool
    service_id: str | None  # UUID or site id


def column_of(definition: MetaDatum) -> Column:
    """The column a definition describes, as value checks, sheet import and templates use it."""
    return Column(
        definition.name,
        mandatory=definition.mandatory,
        pattern=definition.regexp,
        pattern_description=definition.short_description,
        datetime_format=definition.datetimefmt,
        is_file=definition.isfile,
        submission_unique=definition.submission_unique or definition.site_unique,
        site_unique=definition.site_unique,
        description=definition.long_description,
        example=definition.example or "",
    )


def list_definitions(db: Session) -> list[MetaDatum]:
    """Every definition, service columns included, in display order, as entities."""
    return list(db.scalars(select(MetaDatum).order_by(MetaDatum.order, MetaDatum.name)))


@dataclass(frozen=True)
class Definition:
    """What requests need of a definition, detached from any session: processes keep it."""

    id: int
    name: str
    isfile: bool
    service_id: int | None
    column: Column


@dataclass(frozen=True)
class Definitions:
    """Every definition in display order, as of one version of them (see ``definitions``)."""

    version: int
    all: tuple[Definition, ...]

    @property
    def submitter(self) -> tuple[Definition, ...]:
        """The columns submitters fill: all but those a service fills later."""
        return tuple(definition for definition in self.all if definition.service_id is None)


# The definitions each database had at the version last read, shared by the process's
# threads (replacing the entry is atomic; two threads may at worst both load it).
_loaded: dict[str, Definitions] = {}
_SESSION_KEY = "datameta.definitions"
_lock = threading.Lock()


def definitions(db: Session) -> Definitions:
    """The definitions as this transaction sees them, read once per process and version.

    One cheap query per session checks the version (a trigger bumps it with every change
    to the definitions, in the changing transaction), unless the transaction read it
    already along with the caller's key; only a new version loads them again.
    """
    cached = db.info.get(_SESSION_KEY)
    if cached is not None:
        return cached
    if DEFINITIONS_VERSION_KEY in db.info:
        version = db.info[DEFINITIONS_VERSION_KEY]
    else:
        version = db.scalar(select(MetadataVersion.version))
    database = db.get_bind().engine.url.render_as_string()
    known = _loaded.get(database)
    if known is None or version is None or known.version != version:
        known = Definitions(
            version or 0,
            tuple(
                Definition(d.id, d.name, d.isfile, d.service_id, column_of(d))
                for d in list_definitions(db)
            ),
        )
        with _lock:
            _loaded[database] = known
    db.info[_SESSION_KEY] = known
    return known


def forget_definitions(db: Session) -> None:
    """This session changed the definitions: read them again when next asked."""
    db.info.pop(_SESSION_KEY, None)
    db.info.pop(DEFINITIONS_VERSION_KEY, None)


# A session's definitions hold for one transaction, and only until it changes them.
@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(db: Session, transaction: SessionTransaction) -> None:
    forget_definitions(db)


@event.listens_for(Session, "after_flush")
def _flushed(db: Session, flush: UOWTransaction) -> None:
    known = _SESSION_KEY in db.info or DEFINITIONS_VERSION_KEY in db.info
    if known and any(isinstance(entity, MetaDatum) for entity in (*db.new, *db.dirty, *db.deleted)):
        forget_definitions(db)


def submitter_definitions(db: Session) -> tuple[Definition, ...]:
    """The columns submitters fill: all but those a service fills later."""
    return definitions(db).submitter


def submitter_columns(db: Session) -> list[Column]:
    """The columns submitters fill (service columns left out), in display order."""
    return [definition.column for definition in submitter_definitions(db)]


def _blank_to_none(text: str | None) -> str | None:
    return text if text else None


def _rule_problems(data: DefinitionInput) -> list[ErrorItem]:
    """What makes the regular expression or date/time format unusable."""
    problems = []
    if data.regexp:
        try:
            compile_pattern(data.regexp)
        except InvalidPattern as error:
            problems.append(ErrorItem(message=str(error), field="regExp"))
    if data.datetime_format and (problem := datetime_format_problem(data.datetime_format)):
        problems.append(ErrorItem(message=problem, field="dateTimeFmt"))
    return problems


def _problems(db: Session, data: DefinitionInput, current: MetaDatum | None) -> list[ErrorItem]:
    problems = []
    name = data.name.strip()
    if not name:
        problems.append(ErrorItem(message="The name must not be empty.", field="name"))
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(
            ErrorItem(message=f"The name is longer than {MAX_NAME_LENGTH}.", field="name")
        )
    else:
        taken = select(MetaDatum.id).where(MetaDatum.name == name)
        if current is not None:
            taken = taken.where(MetaDatum.id != current.id)
        if db.scalar(select(exists(taken))):
            problems.append(
                ErrorItem(message=f"A metadatum named {name} exists already.", field="name")
            )
    return problems + _rule_problems(data)


def save_definition(
    db: Session, actor: User, data: DefinitionInput, definition_id: str | None = None
) -> MetaDatum:
    """Create a definition, or replace every attribute of an existing one."""
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may define metadata.")
    current = get_by_id(db, MetaDatum, definition_id, what="Metadatum") if definition_id else None
    problems = _problems(db, data, current)
    if problems:
        raise ValidationFailed(problems)
    service = get_by_id(db, Service, data.service_id, what="Service") if data.service_id else None
    definition = current or MetaDatum()
    definition.name = data.name.strip()
    definition.short_description = _blank_to_none(data.regex_description)
    definition.long_description = _blank_to_none(data.long_description)
    definition.example = data.example
    definition.regexp = _blank_to_none(data.regexp)
    definition.datetimefmt = _blank_to_none(data.datetime_format)
    definition.mandatory = data.mandatory
    definition.order = data.order
    definition.isfile = data.is_file
    definition.submission_unique = data.submission_unique
    definition.site_unique = data.site_unique
    definition.service = service
    if current is None:
        db.add(definition)
    db.flush()
    return definition


def delete_definition(db: Session, actor: User, definition_id: str) -> None:
    """Delete a definition that no stored value uses yet."""
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may define metadata.")
    definition = get_by_id(db, MetaDatum, definition_id, what="Metadatum")
    used = db.scalar(
        select(func.count())
        .select_from(MetaDatumRecord)
        .where(MetaDatumRecord.metadatum_id == definition.id, MetaDatumRecord.value.is_not(None))
    )
    if used:
        raise Conflict(
            f"The metadatum {definition.name} holds values in {used} metadatasets "
            "and cannot be deleted."
        )
    db.execute(
        delete(MetaDatumRecord)
        .where(MetaDatumRecord.metadatum_id == definition.id)
        .execution_options(synchronize_session=False)
    )
    db.delete(definition)


@dataclass(frozen=True)
class Impact:
    """What a definition change would do to staged data: records it makes invalid, and owners."""

    records: int
    users: int


def _proposed_column(data: DefinitionInput) -> Column:
    return Column(
        data.name.strip(),
        mandatory=data.mandatory,
        pattern=_blank_to_none(data.regexp),
        pattern_description=_blank_to_none(data.regex_description),
        datetime_format=_blank_to_none(data.datetime_format),
    )


def assess_definition(
    db: Session, actor: User, data: DefinitionInput, definition_id: str | None = None
) -> Impact:
    """How many staged records (of how many users) pass today but would fail ``data``.

    The records are checked as submission checks them (``stored_value_problem``);
    a new column has no values yet, so a mandatory one affects every staged record.
    Service columns are not filled by submitters, so they affect none.
    """
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may define metadata.")
    current = get_by_id(db, MetaDatum, definition_id, what="Metadatum") if definition_id else None
    problems = _rule_problems(data)
    if problems:
        raise ValidationFailed(problems)
    if data.service_id:
        return Impact(0, 0)
    proposed = _proposed_column(data)
    before = column_of(current) if current is not None and current.service_id is None else None
    staged = select(MetaDataSet.user_id).where(MetaDataSet.submission_id.is_(None))
    if current is None:
        rows = db.execute(staged.add_columns(null()))
    else:
        rows = db.execute(
            staged.add_columns(MetaDatumRecord.value).outerjoin(
                MetaDatumRecord,
                (MetaDatumRecord.metadataset_id == MetaDataSet.id)
                & (MetaDatumRecord.metadatum_id == current.id),
            )
        )
    records, owners = 0, set()
    for user_id, value in rows:
        passes_now = before is None or stored_value_problem(before, value) is None
        if passes_now and stored_value_problem(proposed, value) is not None:
            records += 1
            owners.add(user_id)
    return Impact(records, len(owners))
