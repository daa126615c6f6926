"""Metadatasets: one sample-sheet row each; staged by their owner, then submitted for good."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    insert,
    not_,
    null,
    select,
    type_coerce,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import column as sql_column
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import (
    InstrumentedAttribute,
    Session,
    aliased,
    joinedload,
    make_transient_to_detached,
)
from sqlalchemy.types import NullType, Uuid

from datameta.db import PreparedStatement, note_written
from datameta.errors import ErrorItem, ValidationFailed
from datameta.linting import lint_record
from datameta.logic import listing
from datameta.logic.ids import find_by_id, get_visible, id_condition, not_modifiable
from datameta.logic.metadata import (
    Definition,
    definitions,
    submitter_definitions,
)
from datameta.logic.users import staged_data_owner
from datameta.models import (
    File,
    Group,
    MetaDataSet,
    MetaDatumRecord,
    Service,
    ServiceExecution,
    Submission,
    User,
    allocate_site_ids,
)
from datameta.models.siteids import (
    checked_site_id,
    next_number_sql,
    site_id_parameters,
    site_id_sql,
)
from datameta.security import authz

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass
class MetadatasetView:
    """A metadataset with everything its JSON needs, loaded in bulk."""

    metadataset: MetaDataSet
    values: dict[int, str | None] = field(default_factory=dict)  # by metadatum id
    files: dict[int, File] = field(default_factory=dict)  # by metadatum id
    executions: dict[int, ServiceExecution] = field(default_factory=dict)  # by service id
    owner: User | None = None
    submission: Submission | None = None
    # Owners, submissions and services loaded in bulk; held here because the session
    # keeps unmodified objects only while something refers to them.
    related: list[Any] = field(default_factory=list)


def stage_records(
    db: Session, actor: User, records: Sequence[Mapping[str, Any]]
) -> list[MetaDataSet]:
    """Stage one metadataset per record, all or nothing, with set-based inserts.

    Every record is checked first; any problem raises ValidationFailed naming the
    record's position (``field`` is ``"<index>.<column>"`` when more than one).
    """
    return [_attached(db, view.metadataset) for view in stage_record_views(db, actor, records)]


def stage_record_views(
    db: Session, actor: User, records: Sequence[Mapping[str, Any]]
) -> list[MetadatasetView]:
    """``stage_records``, answering everything the sets' JSON needs without reading it back.

    A set just staged has the values just stored, its owner, no submission, no file
    links (those are made at submission) and no service executions.
    """
    definitions = submitter_definitions(db)
    rules = [definition.column for definition in definitions]
    results = [lint_record(rules, record) for record in records]
    problems = []
    for index, result in enumerate(results):
        for error in result.errors:
            name = error.field if len(records) == 1 else f"{index}.{error.field}"
            problems.append(ErrorItem(message=error.message, field=name))
    if problems:
        raise ValidationFailed(problems)
    staged = insert_checked(db, actor, definitions, [result.values for result in results])
    return [
        MetadatasetView(
            _staged_set(actor, ref),
            values={d.id: result.values[d.name] for d in definitions},
            owner=actor,
        )
        for ref, result in zip(staged, results, strict=True)
    ]


@dataclass(frozen=True)
class StagedRef:
    """A metadataset just staged: everything its identifier needs, without an ORM object."""

    id: int
    uuid: uuid.UUID
    site_id: str
    created: datetime


def _staged_set(actor: User, ref: StagedRef) -> MetaDataSet:
    """The ORM object of a set just inserted, known completely, outside any session: its
    JSON needs nothing more, and the commit has nothing of it to flush."""
    return MetaDataSet(
        id=ref.id,
        uuid=ref.uuid,
        site_id=ref.site_id,
        user_id=actor.id,
        group_id=actor.group_id,
        submission_id=None,
        created=ref.created,
    )


def _attached(db: Session, metadataset: MetaDataSet) -> MetaDataSet:
    """``metadataset`` (from ``_staged_set``) in ``db``, as if loaded, without a query.

    A query would, under SERIALIZABLE, make concurrent stagings look like conflicts.
    """
    make_transient_to_detached(metadataset)
    db.add(metadataset)
    return metadataset


def insert_checked(
    db: Session,
    actor: User,
    definitions: Sequence[Definition],
    records: Sequence[Mapping[str, str | None]],
) -> list[StagedRef]:
    """Stage records already checked by ``lint_record`` (values as stored), set-wise.

    Plain rows, not ORM objects: a sample sheet stages tens of thousands at once.
    """
    if not records:
        return []
    now = datetime.now(UTC)
    # Empty values need no row: a missing record reads as null.
    values = [
        (index, definition.id, value)
        for index, record in enumerate(records)
        for definition in definitions
        if (value := record[definition.name]) is not None
    ]
    if len(values) < COPY_THRESHOLD:
        return _insert_sets_with_values(db, actor, [uuid.uuid4() for _ in records], now, values)
    refs = [
        StagedRef(0, uuid.uuid4(), site_id, now)
        for site_id in allocate_site_ids(db, "metadatasets", len(records))
    ]
    ids = _insert_sets(db, actor, refs)
    insert_values(db, [(ids[index], column, value) for index, column, value in values])
    return [replace(ref, id=new_id) for ref, new_id in zip(refs, ids, strict=True)]


def _insert_sets(db: Session, actor: User, refs: Sequence[StagedRef]) -> list[int]:
    """Insert the sets' rows; their ids in the order of ``refs``."""
    table = cast(Table, MetaDataSet.__table__)
    rows = [
        {
            "uuid": ref.uuid,
            "site_id": ref.site_id,
            "user_id": actor.id,
            "group_id": actor.group_id,
            "created": ref.created,
        }
        for ref in refs
    ]
    return list(
        db.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
        ).scalars()
    )


# The sets, their site ids and their values in one round trip: the values find their set
# by its uuid. A data-modifying WITH runs whether or not it is read; a WITH that calls a
# volatile function (nextval) is evaluated once per row, never inlined. The sets and the
# values come as two JSON documents, which the driver passes as they are (arrays of many
# values it quoted one by one); prepared once per connection, the statement is not
# planned again for every staging. Only constants of the code are formatted into it.
_INSERT_SETS_WITH_VALUES = PreparedStatement(
    "datameta_insert_sets_with_values",
    f"""
    WITH numbered AS (
        SELECT CAST(new.uuid AS uuid) AS uuid, {next_number_sql("metadatasets")} AS number
        FROM jsonb_array_elements_text(:uuids) AS new(uuid)
    ), new_sets AS (
        INSERT INTO metadatasets (uuid, site_id, user_id, group_id, created)
        SELECT numbered.uuid, {site_id_sql("numbered.number")}, :user_id, :group_id, :created
        FROM numbered
        RETURNING id, uuid, site_id
    ), new_values AS (
        INSERT INTO metadatumrecords (metadataset_id, metadatum_id, value)
        SELECT new_sets.id, CAST(new.value->>1 AS integer), new.value->>2
        FROM jsonb_array_elements(:values) AS new(value)
        JOIN new_sets ON new_sets.uuid = CAST(new.value->>0 AS uuid)
    )
    SELECT id, uuid, site_id FROM new_sets
    """,  # noqa: S608
    [
        ("uuids", "jsonb"),
        ("values", "jsonb"),
        ("user_id", "integer"),
        ("group_id", "integer"),
        ("created", "timestamptz"),
        ("site_id_prefix", "text"),
        ("site_id_digits", "integer"),
    ],
    [sql_column("id", Integer), sql_column("uuid", Uuid), sql_column("site_id", Text)],
)


def _insert_sets_with_values(
    db: Session,
    actor: User,
    uuids: Sequence[uuid.UUID],
    created: datetime,
    values: Sequence[tuple[int, int, str]],
) -> list[StagedRef]:
    """Insert the sets and their values (by the set's index in ``uuids``) in one statement.

    Run on the session's connection as a Core statement: the ORM has nothing to add to
    plain SQL but its own cost.
    """
    texts = [str(set_uuid) for set_uuid in uuids]
    cells = [(texts[index], column, value) for index, column, value in values]
    rows = _INSERT_SETS_WITH_VALUES.rows(
        db.connection(),
        {
            "uuids": json.dumps(texts),
            "values": json.dumps(cells),
            "user_id": actor.id,
            "group_id": actor.group_id,
            "created": created,
            **site_id_parameters(db, "metadatasets"),
        },
    )
    inserted = {set_uuid: (set_id, site_id) for set_id, set_uuid, site_id in rows}
    # A write in plain SQL: the request's transaction must know it has one to commit.
    note_written(db)
    refs = []
    for set_uuid in uuids:
        set_id, site_id = inserted[set_uuid]
        refs.append(
            StagedRef(set_id, set_uuid, checked_site_id(db, "metadatasets", site_id), created)
        )
    return refs


COPY_THRESHOLD = 1000
# COPY's text format: a backslash starts an escape, tabs and line ends separate.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert_values(db: Session, values: Sequence[tuple[int, int, str]]) -> None:
    """Insert (metadataset id, metadatum id, value) rows; many at once go by COPY."""
    if len(values) < COPY_THRESHOLD:
        if values:
            db.execute(
                insert(MetaDatumRecord),
                [{"metadataset_id": s, "metadatum_id": m, "value": v} for s, m, v in values],
            )
        return
    buffer = io.StringIO("".join(f"{s}\t{m}\t{v.translate(COPY_ESCAPES)}\n" for s, m, v in values))
    cursor = db.connection().connection.cursor()
    cursor.copy_expert(
        "COPY metadatumrecords (metadataset_id, metadatum_id, value) FROM STDIN", buffer
    )


def stage_metadataset(db: Session, actor: User, record: Mapping[str, Any]) -> MetaDataSet:
    """Stage one metadataset from a record of column name to value."""
    return stage_records(db, actor, [record])[0]


def load_views(
    db: Session, metadatasets: Sequence[MetaDataSet], *, with_groups: bool = False
) -> list[MetadatasetView]:
    """Values, files and service executions of many sets in a few queries, whatever their number.

    ``with_groups`` loads the submissions' groups as well (one query more).
    """
    views = {mset.id: MetadatasetView(mset) for mset in metadatasets}
    if not views:
        return []
    file_links = []
    for mset_id, metadatum_id, value, file_id in db.execute(
        select(
            MetaDatumRecord.metadataset_id,
            MetaDatumRecord.metadatum_id,
            MetaDatumRecord.value,
            MetaDatumRecord.file_id,
        ).where(MetaDatumRecord.metadataset_id.in_(views))
    ):
        views[mset_id].values[metadatum_id] = value
        if file_id is not None:
            file_links.append((mset_id, metadatum_id, file_id))
    # Files apart: an entity per value row would cost more than the values themselves.
    if file_links:
        files = {
            file.id: file
            for file in db.scalars(select(File).where(File.id.in_({f for *_, f in file_links})))
        }
        for mset_id, metadatum_id, file_id in file_links:
            views[mset_id].files[metadatum_id] = files[file_id]
    for execution in db.scalars(
        select(ServiceExecution).where(ServiceExecution.metadataset_id.in_(views))
    ):
        views[execution.metadataset_id].executions[execution.service_id] = execution
    related = _preload_related(db, metadatasets, views.values(), with_groups=with_groups)
    # Handed over directly: a relationship resolved per set costs more than its JSON.
    by_key = {(type(entity), entity.id): entity for entity in related}
    for view in views.values():
        view.related = related
        view.owner = by_key[User, view.metadataset.user_id]
        view.submission = by_key.get((Submission, view.metadataset.submission_id))
    return [views[mset.id] for mset in metadatasets]


def _preload_related(
    db: Session,
    metadatasets: Sequence[MetaDataSet],
    views: Iterable[MetadatasetView],
    *,
    with_groups: bool,
) -> list[Any]:
    """Owners, submissions, services: loaded once, so that attribute access needs no query.

    Many-to-one relationships are resolved from the session's identity map.
    """
    executions = [execution for view in views for execution in view.executions.values()]
    user_ids = {mset.user_id for mset in metadatasets} | {e.user_id for e in executions}
    submission_ids = {mset.submission_id for mset in metadatasets} - {None}
    service_ids = {execution.service_id for execution in executions}
    related: list[Any] = list(db.scalars(select(User).where(User.id.in_(user_ids))))
    if submission_ids:
        submissions = list(db.scalars(select(Submission).where(Submission.id.in_(submission_ids))))
        related += submissions
        if with_groups:
            group_ids = {submission.group_id for submission in submissions}
            related += db.scalars(select(Group).where(Group.id.in_(group_ids)))
    if service_ids:
        related += db.scalars(select(Service).where(Service.id.in_(service_ids)))
    return related


def may_read(actor: User, metadataset: MetaDataSet) -> bool:
    """Staged sets: only their owner. Submitted ones: the submission's group and site readers."""
    if metadataset.submission_id is None:
        return authz.can_view_staged(actor, metadataset.user)
    return authz.can_read_submitted(actor, cast(Submission, metadataset.submission).group_id)


def get_metadataset(db: Session, actor: User, metadataset_id: str) -> MetaDataSet:
    """A metadataset the actor may read; NotFound, as for an unknown id, otherwise."""
    return get_visible(
        db, MetaDataSet, metadataset_id, lambda mset: may_read(actor, mset), what="Metadataset"
    )


def delete_metadatasets(db: Session, actor: User, metadataset_ids: Sequence[str]) -> None:
    """Delete staged sets of the caller, all or nothing: the first problem aborts."""
    found = []
    for given in dict.fromkeys(metadataset_ids):
        metadataset = get_metadataset(db, actor, given)
        # Seen but submitted: not modifiable (403), as DataMeta 1.x answers.
        if metadataset.submission_id is not None:
            raise not_modifiable(metadataset)
        found.append(metadataset.id)
    if found:
        db.execute(delete(MetaDataSet).where(MetaDataSet.id.in_(found)))


@dataclass(frozen=True)
class SubmittedQuery:
    """What a listing of submitted sets asks for; without the finding fields, DataMeta 1.x's."""

    submitted_after: datetime | None = None
    submitted_before: datetime | None = None
    awaiting_service: str | None = None
    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    search: str | None = None  # words, all of which must match
    filters: Sequence[str] = ()  # "<column>:<operation>[:<value>]"
    submission_id: str | None = None
    group_id: str | None = None
    user_id: str | None = None
    sort: str | None = None  # "[-]<field>" or "[-]record.<column>"; default oldest first


def _in_utc(moment: datetime) -> datetime:
    # PostgreSQL refuses offsets beyond 15:59, which ISO 8601 allows; UTC it always takes.
    return moment if moment.tzinfo is None else moment.astimezone(UTC)


def readable_definitions(db: Session, actor: User) -> list[Definition]:
    """The columns whose values the actor may read in submitted sets, in display order.

    From the process's cache of the definitions: no query beyond the version check.
    """
    show_service_values = authz.can_read_service_values(actor)
    return [d for d in definitions(db).all if d.service_id is None or show_service_values]


def _matching(db: Session, actor: User, query: SubmittedQuery) -> Select:
    """The submitted sets the caller may read that match ``query``, in no order."""
    statement = (
        select(MetaDataSet)
        .join(Submission, Submission.id == MetaDataSet.submission_id)
        .join(User, User.id == MetaDataSet.user_id)
        .join(Group, Group.id == Submission.group_id)
    )
    if not authz.can_list_all_groups_data(actor):
        statement = statement.where(Submission.group_id == actor.group_id)
    if query.submitted_after is not None:
        statement = statement.where(Submission.date > _in_utc(query.submitted_after))
    if query.submitted_before is not None:
        statement = statement.where(Submission.date < _in_utc(query.submitted_before))
    if query.awaiting_service is not None:
        statement = statement.where(not_(_reported_by(db, actor, query.awaiting_service)))
    # An id naming nothing (or nothing visible) matches nothing, whatever it names.
    for model, given in (
        (Submission, query.submission_id),
        (Group, query.group_id),
        (User, query.user_id),
    ):
        if given is not None:
            condition = id_condition(model, given)
            statement = statement.where(listing.no_match() if condition is None else condition)
    words = listing.search_words(query.search)
    if words:
        service_columns = [d.id for d in readable_definitions(db, actor) if d.service_id]
        for word in words:
            named = listing.named_by(db, word)
            statement = statement.where(listing.word_condition(word, service_columns, named))
    if query.filters:
        columns = readable_definitions(db, actor)
        for spec in query.filters:
            statement = statement.where(
                listing.filter_condition(listing.parse_filter(spec, columns))
            )
    return statement


def _reported_by(db: Session, actor: User, service_id: str) -> Any:
    """The set has the report of the service ``service_id`` (which the actor must know of)."""
    service = find_by_id(db, Service, service_id)
    # Its own users may ask, site reader or not: which sets await them is their work list.
    assigned = service is not None and any(user.id == actor.id for user in service.users)
    if service is None or not authz.can_ask_awaiting_service(actor, assigned):
        raise ValidationFailed(
            [
                ErrorItem(
                    message="Unknown service, or not one you run or whose values you read.",
                    field="awaitingService",
                )
            ]
        )
    return exists().where(
        and_(
            ServiceExecution.metadataset_id == MetaDataSet.id,
            ServiceExecution.service_id == service.id,
        )
    )


def submitted_statement(db: Session, actor: User, query: SubmittedQuery) -> Select:
    """The submitted sets the caller may read that match ``query``, sorted (no paging).

    Oldest submission first unless ``query.sort`` says otherwise. A plain statement:
    it may run in another session than the caller's (a streamed answer).
    """
    return _sorted(_matching(db, actor, query), _order(db, actor, query))


def _order(db: Session, actor: User, query: SubmittedQuery) -> listing.SortOrder | None:
    return (
        None
        if query.sort is None
        else listing.parse_sort(query.sort, readable_definitions(db, actor))
    )


def _sorted(matching: Select, order: listing.SortOrder | None) -> Select:
    if order is None:
        return matching.order_by(Submission.date, MetaDataSet.id)
    return listing.ordered(matching, order)


def _counted(matching: Select) -> Select:
    return select(func.count()).select_from(matching.with_only_columns(MetaDataSet.id).subquery())


def count_statement(db: Session, actor: User, query: SubmittedQuery) -> Select:
    """The statement counting the submitted sets the caller may read that match ``query``."""
    return _counted(_matching(db, actor, query))


def count_submitted(db: Session, actor: User, query: SubmittedQuery) -> int:
    """How many submitted sets the caller may read match ``query``, over all pages."""
    return db.scalar(count_statement(db, actor, query)) or 0


def page_statement(
    db: Session, actor: User, query: SubmittedQuery, total: int | None = None
) -> Select:
    """One page (``query.limit``, ``query.offset``) of ``submitted_statement``'s sets,
    as a statement of its own (it may run in another session, as that one may).

    A page sorted by a sheet column is found first, in the order of the column's
    value index (``listing.column_page``), instead of sorting every matching set;
    the statement then names its sets by id. Unless ``total``, the number of
    matching sets, is known to be small: few are sorted at once.
    """
    order = _order(db, actor, query)
    matching = _matching(db, actor, query)
    if order is not None and order.column is not None and (total or 0) > listing.WALK:
        ids = listing.column_page(db, matching, order, query.limit, query.offset)
        return listing.ordered(matching.where(MetaDataSet.id.in_(ids)), order)
    return _sorted(matching, order).limit(query.limit).offset(query.offset)


def query_submitted(
    db: Session, actor: User, query: SubmittedQuery
) -> tuple[list[MetaDataSet], int]:
    """A page of the submitted sets the caller may read (oldest first), and their total."""
    total = count_submitted(db, actor, query)
    return list(db.scalars(page_statement(db, actor, query, total))), total


# Sets read per round trip when a whole listing is streamed: memory holds one batch.
STREAM_BATCH_SIZE = 1000


def stream_views(
    db: Session, statement: Select, *, with_groups: bool = False
) -> Iterator[list[MetadatasetView]]:
    """The sets ``statement`` selects, in batches with everything their JSON needs.

    A server-side cursor hands out the rows batch by batch; each batch costs the same
    few queries (``load_views``), whatever its size.
    """
    rows = db.scalars(statement.execution_options(yield_per=STREAM_BATCH_SIZE))
    for batch in rows.partitions():
        yield load_views(db, batch, with_groups=with_groups)


def export_rows(
    db: Session, statement: Select, column_ids: Sequence[int], file_column_ids: Sequence[int]
) -> Iterator[list[Row]]:
    """The sets ``statement`` selects as plain rows for tabular exports, batch by batch.

    One statement, read through a server-side cursor, and no ORM objects: each row
    is the set's site id, its submission's site id, label and time, its user's site
    id and name, its group's site id and name, then its values (two aligned arrays:
    column ids and values, of the columns ``column_ids`` only) and its files (four:
    column ids, and the files' site ids, sizes and MD5s, of ``file_column_ids``),
    each aggregated in SQL from one index range per set. PostgreSQL computes them
    after sorting, so the first rows come at once.
    """
    yield from _batches_of_rows(
        db,
        statement.with_only_columns(
            MetaDataSet.site_id,
            Submission.site_id,
            Submission.label,
            Submission.date,
            User.site_id,
            User.fullname,
            Group.site_id,
            Group.name,
            _set_values(column_ids),
            _set_files(file_column_ids, File.site_id, File.filesize, File.checksum),
        ),
    )


def listing_rows(
    db: Session, statement: Select, column_ids: Sequence[int], file_column_ids: Sequence[int]
) -> Iterator[list[Row]]:
    """The sets ``statement`` selects as plain rows for DataMeta 1.x's listing, batch by batch.

    One statement through a server-side cursor and no ORM objects, as for exports:
    each row is the set's id, uuid and site id, its user's and its submission's uuid
    and site id, its values (two aligned arrays: column ids and values, of
    ``column_ids`` only) and its files (three: column ids, and the files' uuids and
    site ids, of ``file_column_ids`` only). Uuids come as text, ready for JSON.
    """
    yield from _batches_of_rows(
        db,
        statement.with_only_columns(
            MetaDataSet.id,
            sql_cast(MetaDataSet.uuid, Text).label("uuid"),
            MetaDataSet.site_id,
            sql_cast(User.uuid, Text).label("user_uuid"),
            User.site_id,
            sql_cast(Submission.uuid, Text).label("submission_uuid"),
            Submission.site_id,
            _set_values(column_ids),
            _set_files(file_column_ids, File.uuid, File.site_id),
        ),
    )


def _set_values(column_ids: Sequence[int]) -> ColumnElement[Any]:
    """The values of the row's set in ``column_ids``, aggregated from one index range.

    Two aligned lists of text, as psycopg2 parses them (nothing more to convert):
    column ids and values.
    """
    record = aliased(MetaDatumRecord)
    values = select(
        array([func.array_agg(sql_cast(record.metadatum_id, Text)), func.array_agg(record.value)])
    ).where(record.metadataset_id == MetaDataSet.id, record.metadatum_id.in_(column_ids))
    return type_coerce(values.scalar_subquery(), NullType())


def _set_files(
    file_column_ids: Sequence[int], *fields: InstrumentedAttribute[Any]
) -> ColumnElement[Any]:
    """The files of the row's set in ``file_column_ids``: aligned lists of text, the
    column ids and then each of the files' ``fields``; null without file columns."""
    if not file_column_ids:
        return null()
    linked, file = aliased(MetaDatumRecord), aliased(File)
    files = (
        select(
            array(
                [
                    func.array_agg(sql_cast(linked.metadatum_id, Text)),
                    *(func.array_agg(sql_cast(getattr(file, field.key), Text)) for field in fields),
                ]
            )
        )
        .select_from(linked)
        .join(file, file.id == linked.file_id)
        .where(linked.metadataset_id == MetaDataSet.id, linked.metadatum_id.in_(file_column_ids))
    )
    return type_coerce(files.scalar_subquery(), NullType())


def _batches_of_rows(db: Session, statement: Select) -> Iterator[list[Row]]:
    """The rows of ``statement`` from a server-side cursor, a batch at a time."""
    rows = db.execute(statement.execution_options(yield_per=STREAM_BATCH_SIZE))
    for batch in rows.partitions():
        yield list(batch)


def executions_by_set(
    db: Session, metadataset_ids: Collection[int]
) -> dict[int, dict[int, ServiceExecution]]:
    """The service executions of many sets in one query: by set id, then by service id."""
    found: dict[int, dict[int, ServiceExecution]] = {}
    for execution in db.scalars(
        select(ServiceExecution)
        .where(ServiceExecution.metadataset_id.in_(metadataset_ids))
        .options(joinedload(ServiceExecution.service), joinedload(ServiceExecution.user))
    ):
        found.setdefault(execution.metadataset_id, {})[execution.service_id] = execution
    return found


def pending_metadatasets(db: Session, actor: User, user_id: str) -> list[MetaDataSet]:
    """The staged sets of a user; only users themselves see their staged data."""
    owner = staged_data_owner(db, actor, user_id)
    return list(
        db.scalars(
            select(MetaDataSet)
            .where(MetaDataSet.user_id == owner.id, MetaDataSet.submission_id.is_(None))
            .order_by(MetaDataSet.id)
        )
    )
