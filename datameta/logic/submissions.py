"""Submissions: staged metadatasets and files committed together, all or nothing.

Checks run in DataMeta's order: access first (so nothing about other people's
data leaks), then how files and records match, the values themselves, and
uniqueness; all problems of the last three are reported at once. The number of
SQL statements does not grow with the size of the submission.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BindParameter,
    Integer,
    Row,
    Text,
    and_,
    any_,
    bindparam,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from datameta.config import Settings
from datameta.errors import Conflict, ErrorItem, Forbidden, ValidationFailed
from datameta.linting.submission import (
    FileFacts,
    Problem,
    SetFacts,
    association_problems,
    columns_read,
    stored_value_problems,
    uniqueness_problems,
)
from datameta.logic import files as file_logic
from datameta.logic import metadatasets
from datameta.logic.groups import get_group
from datameta.logic.ids import SiteIdentified, entity_ref, get_visible, parse_uuid
from datameta.logic.metadata import Definition, submitter_definitions
from datameta.models import (
    File,
    MetaDataSet,
    MetaDatum,
    MetaDatumRecord,
    Submission,
    User,
)
from datameta.security import authz
from datameta.storage import Storage

MAX_LABEL_LENGTH = 200
NOTHING_GIVEN = "Neither data nor metadata provided in submission."

# A staged set or file as the checks and the reply read it: a plain row of the columns
# below, not an ORM object (building 20,000 of those took a third of the app's time for
# 10,000 sets and files). Its ``uuid`` is the canonical text form.
StagedRow = Row[Any]


def _array(name: str, values: Sequence[object], item_type: TypeEngine | type) -> BindParameter:
    """Many values as one array parameter, for ``column == any_(...)``.

    An ``IN`` list binds one parameter per value: thousands of them made the SQL text,
    its compilation and PostgreSQL's parsing grow with the submission.
    """
    return bindparam(name, list(values), type_=ARRAY(item_type))


@dataclass
class ValidatedSubmission:
    metadatasets: list[StagedRow]
    files: list[StagedRow]
    label: str | None


def _row_columns(model: type[MetaDataSet] | type[File]) -> list[Any]:
    ids: list[Any] = [
        model.id,
        model.uuid.cast(Text).label("uuid"),
        model.site_id,
        model.user_id,
    ]
    if model is MetaDataSet:
        return [*ids, MetaDataSet.submission_id]
    return [*ids, File.name, File.content_uploaded, File.verification]


def _lookup(
    db: Session, model: type[MetaDataSet] | type[File], given_ids: Sequence[str], *, lock: bool
) -> dict[str, StagedRow | None]:
    """Rows by the id strings given (UUIDs and site ids mixed), in one query.

    ``lock``: for a submission, which runs READ COMMITTED (see ``create_submission``).
    """
    parsed = {given: parse_uuid(given) for given in given_ids}
    keys = {given: str(as_uuid) if as_uuid else given for given, as_uuid in parsed.items()}
    uuids = [as_uuid for as_uuid in parsed.values() if as_uuid is not None]
    site_ids = [given for given, as_uuid in parsed.items() if as_uuid is None]
    query = select(*_row_columns(model)).where(
        (model.uuid == any_(_array("uuids", uuids, model.uuid.type)))
        | (model.site_id == any_(_array("site_ids", site_ids, Text)))
    )
    if lock:
        # Sets are updated by the submission (FOR NO KEY UPDATE), files only read (FOR
        # SHARE); in the order of their ids, as any other locker of many takes them.
        query = query.order_by(model.id).with_for_update(
            read=model is File, key_share=model is MetaDataSet
        )
    found: dict[str, StagedRow] = {}
    for row in db.execute(query):
        found[row.uuid] = row
        found[row.site_id] = row
    return {given: found.get(key) for given, key in keys.items()}


# The unique index that keeps a file linked to one record at most (see MetaDatumRecord).
FILE_LINK_INDEX = "uq_metadatumrecords_file_id"
LINKED_MEANWHILE = "A concurrent request linked this file meanwhile; nothing was changed."
_LINKED_FILE_ID = re.compile(r"\(file_id\)=\((\d+)\)")


@contextmanager
def linking_files(files: Sequence[SiteIdentified]) -> Iterator[None]:
    """Links of ``files`` written in the block; one that a concurrent request made first
    is a Conflict naming the file, not an unexpected error.

    Requests check that their files are linked nowhere, and two at the same moment (a
    submission, a service's report) both pass that check before either commits. The
    unique index then makes the second wait for the first and refuses it.
    """
    try:
        yield
    except IntegrityError as error:
        diag = getattr(error.orig, "diag", None)
        if diag is None or diag.constraint_name != FILE_LINK_INDEX:
            raise
        found = _LINKED_FILE_ID.search(diag.message_detail or "")
        by_id = {getattr(file, "id", None): file for file in files}
        raced = by_id.get(int(found.group(1))) if found else None
        entity = entity_ref(raced) if raced is not None else None
        item = ErrorItem(message=LINKED_MEANWHILE, exception=Conflict.exception_name, entity=entity)
        raise Conflict([item]) from error


def _access_problems(
    actor: User,
    given: Mapping[str, StagedRow | None],
    may_see: Callable[[StagedRow], bool],
) -> list[ErrorItem]:
    """Ids that name nothing the actor may see are "Not found", others' data "Access denied"."""
    problems = []
    for given_id, entity in given.items():
        echo = {"site": given_id, "uuid": given_id}
        if entity is not None and entity.user_id == actor.id:
            continue
        if entity is None or not may_see(entity):
            problems.append(ErrorItem(message="Not found", entity=echo))
        else:
            problems.append(ErrorItem(message="Access denied", entity=echo))
    return problems


def _values_by_set(
    db: Session, sets: Sequence[StagedRow], definitions: Sequence[Definition]
) -> dict[int, dict[str, str | None]]:
    """Each set's values of ``definitions`` by column name (a set without any: empty).

    One row per set, its values gathered by PostgreSQL into one JSON object: a row per
    value (twenty per set) cost the app more than the values themselves.
    """
    values: dict[int, dict[str, str | None]] = {mset.id: {} for mset in sets}
    if not definitions:
        return values
    gathered = func.json_object_agg(MetaDatum.name, MetaDatumRecord.value, type_=JSON)
    wanted = [definition.id for definition in definitions]
    rows = db.execute(
        select(MetaDatumRecord.metadataset_id, gathered)
        .join(MetaDatum, MetaDatum.id == MetaDatumRecord.metadatum_id)
        .where(
            MetaDatumRecord.metadataset_id == any_(_array("set_ids", list(values), Integer)),
            MetaDatumRecord.metadatum_id == any_(_array("metadatum_ids", wanted, Integer)),
        )
        .group_by(MetaDatumRecord.metadataset_id)
    )
    for set_id, set_values in rows:
        values[set_id] = set_values
    return values


def linked_file_ids(db: Session, files: Sequence[File] | Sequence[StagedRow]) -> set[int]:
    return set(
        db.scalars(
            select(MetaDatumRecord.file_id).where(
                MetaDatumRecord.file_id == any_(_array("file_ids", [f.id for f in files], Integer))
            )
        )
    )


def _taken_on_site(
    db: Session,
    unique_definitions: list[Definition],
    sets_values: Sequence[Mapping[str, str | None]],
) -> dict[str, set[str]]:
    """Values of site-unique columns that submitted metadatasets already hold (one query)."""
    wanted = {
        definition.id: sorted({v for values in sets_values if (v := values.get(definition.name))})
        for definition in unique_definitions
    }
    # One "column = d AND value IN (...)" per column: a list of (column, value) pairs
    # grows the query's expression tree with every row and fails at tens of thousands.
    conditions = [
        and_(
            MetaDatumRecord.metadatum_id == metadatum_id,
            MetaDatumRecord.value == any_(_array(f"values_{metadatum_id}", values, Text)),
        )
        for metadatum_id, values in wanted.items()
        if values
    ]
    if not conditions:
        return {}
    names = {definition.id: definition.name for definition in unique_definitions}
    taken: dict[str, set[str]] = {}
    rows = db.execute(
        select(MetaDatumRecord.metadatum_id, MetaDatumRecord.value)
        .join(MetaDataSet, MetaDataSet.id == MetaDatumRecord.metadataset_id)
        .where(MetaDataSet.submission_id.is_not(None), or_(*conditions))
    )
    for metadatum_id, value in rows:
        # "value = ANY(...)" never matches NULL.
        taken.setdefault(names[metadatum_id], set()).add(cast(str, value))
    return taken


def _as_items(
    problems: list[Problem], entities: Mapping[tuple[str, Hashable], StagedRow]
) -> list[ErrorItem]:
    return [
        ErrorItem(
            message=problem.message,
            entity=entity_ref(entities[(problem.kind, problem.key)]),
            field=problem.field,
        )
        for problem in problems
    ]


def validate_submission(
    db: Session,
    actor: User,
    metadataset_ids: Sequence[str],
    file_ids: Sequence[str],
    label: str | None,
) -> ValidatedSubmission:
    """Everything /presubvalidation and /submissions check; raises ValidationFailed."""
    return _validated(db, actor, metadataset_ids, file_ids, label, lock=False)


def _validated(
    db: Session,
    actor: User,
    metadataset_ids: Sequence[str],
    file_ids: Sequence[str],
    label: str | None,
    *,
    lock: bool,
) -> ValidatedSubmission:
    metadataset_ids = list(dict.fromkeys(metadataset_ids))
    file_ids = list(dict.fromkeys(file_ids))
    if not metadataset_ids and not file_ids:
        raise ValidationFailed(NOTHING_GIVEN)
    label = (label or "").strip() or None
    if label is not None and len(label) > MAX_LABEL_LENGTH:
        raise ValidationFailed(
            [ErrorItem(message=f"The label is longer than {MAX_LABEL_LENGTH}.", field="label")]
        )

    given_sets = _lookup(db, MetaDataSet, metadataset_ids, lock=lock)
    given_files = _lookup(db, File, file_ids, lock=lock)
    # Others' sets and files are rare here: their rules read the ORM objects.
    access = _access_problems(
        actor,
        given_sets,
        lambda row: metadatasets.may_read(actor, db.get_one(MetaDataSet, row.id)),
    ) + _access_problems(
        actor, given_files, lambda row: file_logic.may_read(db, actor, db.get_one(File, row.id))
    )
    if access:
        raise ValidationFailed(access)

    # Every id was found (access problems include what was not).
    sets = [mset for mset in dict.fromkeys(given_sets.values()) if mset is not None]
    files = [file for file in dict.fromkeys(given_files.values()) if file is not None]
    definitions = submitter_definitions(db)
    rules = [definition.column for definition in definitions]
    read = {rule.name for rule in columns_read(rules)}
    values = _values_by_set(db, sets, [d for d in definitions if d.name in read])
    linked = linked_file_ids(db, files)
    set_facts = [
        SetFacts(mset.id, mset.submission_id is not None, values[mset.id]) for mset in sets
    ]
    file_facts = [
        FileFacts(file.id, file.name, file.content_uploaded, file.id in linked, file.verification)
        for file in files
    ]
    file_columns = [rule.name for rule in rules if rule.is_file]
    site_unique = [d for d in definitions if d.column.site_unique]
    taken = _taken_on_site(db, site_unique, [values[mset.id] for mset in sets])
    problems = (
        association_problems(set_facts, file_facts, file_columns)
        + stored_value_problems(rules, set_facts)
        + uniqueness_problems(rules, set_facts, taken)
    )
    if problems:
        entities: dict[tuple[str, Hashable], StagedRow] = {
            ("metadataset", mset.id): mset for mset in sets
        }
        entities.update({("file", file.id): file for file in files})
        raise ValidationFailed(_as_items(problems, entities))
    return ValidatedSubmission(sets, files, label)


def create_submission(
    db: Session,
    actor: User,
    metadataset_ids: Sequence[str],
    file_ids: Sequence[str],
    label: str | None,
) -> NewSubmission:
    """Validate, then commit the sets and files as one submission of the caller's group.

    Runs READ COMMITTED, one submission at a time (``api.submissions`` says why that
    is safe): the sets and files are locked as they are looked up, so every later
    check reads them as they stay until the submission commits.
    """
    checked = _validated(db, actor, metadataset_ids, file_ids, label, lock=True)
    submission = Submission(group_id=actor.group_id, label=checked.label)
    db.add(submission)
    db.flush()
    set_ids = [mset.id for mset in checked.metadatasets]
    _link_files(db, set_ids, checked.files)
    if set_ids:
        # The submission alone: the sets' search texts are written by the worker soon
        # after this commits (``logic.search_texts``; the caller defers its job), and
        # searches find the sets meanwhile.
        db.execute(
            update(MetaDataSet)
            .where(MetaDataSet.id == any_(_array("set_ids", set_ids, Integer)))
            .values(submission_id=submission.id)
            .execution_options(synchronize_session=False)
        )
    # Objects the session already holds (a request of its own holds none of these) learn
    # what the updates wrote when next read.
    submitted = set(set_ids)
    for held in list(db.identity_map.values()):
        # The identity, not ``held.id``: reading an expired attribute would load the row.
        if isinstance(held, MetaDatumRecord) or (
            isinstance(held, MetaDataSet) and (inspect(held).identity or (0,))[0] in submitted
        ):
            db.expire(held)
    return NewSubmission(
        submission,
        sorted(checked.metadatasets, key=lambda mset: mset.id),
        sorted(checked.files, key=lambda file: file.id),
    )


def _link_files(db: Session, set_ids: list[int], files: Sequence[StagedRow]) -> None:
    """Point each file-column record at the file of that name, in one statement."""
    if not files or not set_ids:
        return
    with linking_files(files):
        db.execute(
            update(MetaDatumRecord)
            .where(
                MetaDatumRecord.metadataset_id == any_(_array("set_ids", set_ids, Integer)),
                MetaDatumRecord.metadatum_id == MetaDatum.id,
                MetaDatum.isfile,
                File.id == any_(_array("file_ids", [file.id for file in files], Integer)),
                File.name == MetaDatumRecord.value,
            )
            .values(file_id=File.id)
            .execution_options(synchronize_session=False)
        )


@dataclass
class SubmissionContents:
    metadatasets: list[MetaDataSet]
    files: list[File]


@dataclass(frozen=True)
class NewSubmission:
    """A submission just made, with the rows of its sets and files (in the order of ids)."""

    submission: Submission
    metadatasets: list[StagedRow]
    files: list[StagedRow]


def submission_contents(
    db: Session, submissions: Sequence[Submission]
) -> dict[int, SubmissionContents]:
    """The sets and files of many submissions, in two queries."""
    contents = {submission.id: SubmissionContents([], []) for submission in submissions}
    if not contents:
        return contents
    for mset in db.scalars(
        select(MetaDataSet).where(MetaDataSet.submission_id.in_(contents)).order_by(MetaDataSet.id)
    ):
        # Selected by submission, so never without one.
        contents[cast(int, mset.submission_id)].metadatasets.append(mset)
    rows = db.execute(
        select(MetaDataSet.submission_id, File)
        .join(MetaDatumRecord, MetaDatumRecord.file_id == File.id)
        .join(MetaDataSet, MetaDataSet.id == MetaDatumRecord.metadataset_id)
        .where(MetaDataSet.submission_id.in_(contents))
        .order_by(File.id)
    )
    for submission_id, file in rows:
        contents[cast(int, submission_id)].files.append(file)
    return contents


def get_submission(db: Session, actor: User, submission_id: str) -> Submission:
    """A submission the caller may read (their group's, or any for site readers)."""
    return get_visible(
        db,
        Submission,
        submission_id,
        lambda submission: authz.can_read_submitted(actor, submission.group_id),
    )


def group_submissions(db: Session, actor: User, group_id: str) -> list[Submission]:
    """The submissions of a group: for its members and site readers.

    A group the actor may not see does not exist for them; a site admin who sees
    every group but reads no other group's data is refused (403).
    """
    group = get_group(db, actor, group_id)
    if not authz.can_list_group_submissions(actor, group.id):
        raise Forbidden("You may not see this group's submissions.")
    return list(
        db.scalars(
            select(Submission).where(Submission.group_id == group.id).order_by(Submission.id)
        )
    )


# How long a manifest's URLs stay valid unless asked otherwise (and the site allows it).
MANIFEST_EXPIRY_MINUTES = 60


@dataclass(frozen=True)
class Manifest:
    """The files of a submission, each with a presigned GET valid until ``expires``."""

    submission: Submission
    downloads: list[file_logic.DownloadUrl]
    expires_minutes: int


def submission_manifest(
    db: Session,
    actor: User,
    submission_id: str,
    *,
    expires_minutes: int | None,
    storage: Storage,
    settings: Settings,
) -> Manifest:
    """Every file of a submission the caller may read, with a download URL each.

    Presigning is computed locally, without a request to storage per file.
    """
    if expires_minutes is None:
        expires_minutes = min(MANIFEST_EXPIRY_MINUTES, settings.files_download_max_expiry_minutes)
    file_logic.check_download_expiry(expires_minutes, settings)
    submission = get_submission(db, actor, submission_id)
    files = submission_contents(db, [submission])[submission.id].files
    downloads = []
    for file in files:
        presigned = storage.presigned_get(
            file.storage_key, expires_seconds=expires_minutes * 60, download_name=file.name
        )
        downloads.append(file_logic.DownloadUrl(file, presigned.url, presigned.expires_at))
    return Manifest(submission, downloads, expires_minutes)


@dataclass(frozen=True)
class RecentSubmission:
    submission: Submission
    records: int
    files: int


def recent_submissions(db: Session, actor: User, limit: int = 10) -> list[RecentSubmission]:
    """The latest submissions of the actor's group, newest first, with their sizes."""
    records = (
        select(func.count(MetaDataSet.id))
        .where(MetaDataSet.submission_id == Submission.id)
        .scalar_subquery()
    )
    files = (
        select(func.count(MetaDatumRecord.file_id))
        .join(MetaDataSet, MetaDataSet.id == MetaDatumRecord.metadataset_id)
        .where(MetaDataSet.submission_id == Submission.id)
        .scalar_subquery()
    )
    rows = db.execute(
        select(Submission, records, files)
        .where(Submission.group_id == actor.group_id)
        .order_by(Submission.date.desc(), Submission.id.desc())
        .limit(limit)
    )
    return [RecentSubmission(submission, sets, files) for submission, sets, files in rows]
