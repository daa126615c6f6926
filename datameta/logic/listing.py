"""Finding submitted metadatasets: search words, column filters and sort orders as SQL.

Everything here turns what a caller asks for into SQL conditions and orderings;
nothing is filtered or sorted in Python. Column names are resolved against the
columns the caller may see, so a service's values can neither be searched nor
sorted by those who may not read them (such a column is unknown to them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    any_,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy import asc as sa_asc
from sqlalchemy import column as sql_column
from sqlalchemy import desc as sa_desc
from sqlalchemy.orm import Session, aliased

from datameta.errors import ErrorItem, ValidationFailed
from datameta.logic.metadata import Definition
from datameta.models import File, Group, MetaDataSet, MetaDatumRecord, Submission, User
from datameta.models.submissions import SORT_PREFIX

MAX_SEARCH_WORDS = 20
FILTER_OPERATIONS = ("contains", "equals", "empty", "notempty", "from", "to")
# Operations that take no value after the operation's name.
VALUELESS_OPERATIONS = ("empty", "notempty")
# Fields of every set, sortable by these names; sheet columns are sorted as "record.<name>".
SORT_FIELDS = ("id", "submission", "submittedAt", "user", "group")
RECORD_PREFIX = "record."


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([ErrorItem(message=message, field=field)])


def like_pattern(word: str) -> str:
    """An ILIKE pattern matching ``word`` anywhere, its wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_words(text: str | None) -> list[str]:
    """The words of a search box: separated by white space, all of them must match."""
    words = (text or "").split()
    if len(words) > MAX_SEARCH_WORDS:
        raise _invalid("q", f"Search for at most {MAX_SEARCH_WORDS} words at once.")
    return words


@dataclass(frozen=True)
class ColumnFilter:
    """One filter on a sheet column: ``operation`` is one of FILTER_OPERATIONS."""

    column: Definition
    operation: str
    value: str = ""


def parse_filter(spec: str, columns: Sequence[Definition]) -> ColumnFilter:
    """``<column>:<operation>[:<value>]``; the column is one the caller may see.

    Column names may themselves hold colons: the longest known name that the
    specification starts with wins.
    """
    for column in sorted(columns, key=lambda c: len(c.name), reverse=True):
        if not spec.startswith(column.name + ":"):
            continue
        operation, _, value = spec[len(column.name) + 1 :].partition(":")
        if operation not in FILTER_OPERATIONS:
            raise _invalid(
                "filter",
                f"Unknown filter operation {operation!r} on {column.name}; use one of "
                + ", ".join(FILTER_OPERATIONS)
                + ".",
            )
        if operation in ("from", "to") and not column.column.datetime_format:
            raise _invalid("filter", f"{column.name} holds no dates: it has no from / to filter.")
        if operation not in VALUELESS_OPERATIONS and not value:
            raise _invalid("filter", f"The filter {operation} on {column.name} needs a value.")
        return ColumnFilter(column, operation, value)
    raise _invalid("filter", f"The filter {spec!r} names no column you can see.")


def _iso_bound(value: str, *, upper: bool) -> str:
    """A date or date-time bound as the ISO text it is compared with.

    Stored dates are ISO 8601 text, which sorts like time; an upper bound that is a
    bare date includes that whole day.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _invalid(
            "filter", f"{value!r} is no ISO 8601 date or date-time (such as 2021-03-04)."
        ) from None
    if upper and len(value) == len("2021-03-04"):
        try:
            return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
        except OverflowError:  # the last day there is: every later time of it
            return f"{moment.date().isoformat()}T99"
    return moment.replace(tzinfo=None).isoformat()


def _value_of(column: Definition, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """A set has a value of ``column`` that meets ``condition``.

    An uncorrelated IN: PostgreSQL reads the matching values once (by index where
    one fits) and hashes their sets, instead of probing every set's values.
    """
    return MetaDataSet.id.in_(
        select(MetaDatumRecord.metadataset_id).where(
            MetaDatumRecord.metadatum_id == column.id, condition
        )
    )


def filter_condition(column_filter: ColumnFilter) -> ColumnElement[bool]:
    column, operation, value = column_filter.column, column_filter.operation, column_filter.value
    stored = MetaDatumRecord.value
    filled = and_(stored.is_not(None), stored != "")
    if operation == "contains":
        return _value_of(column, stored.ilike(like_pattern(value), escape="\\"))
    if operation == "equals":
        return _value_of(column, stored == value)
    if operation == "notempty":
        return _value_of(column, filled)
    if operation == "empty":
        return ~_value_of(column, filled)
    # ISO 8601 text sorts like time byte by byte: compared in the "C" collation, whatever
    # the database's own, which may weigh punctuation differently.
    iso = stored.collate("C")
    if operation == "from":
        return _value_of(column, iso >= _iso_bound(value, upper=False))
    return _value_of(column, iso < _iso_bound(value, upper=True))


def named_by(db: Session, word: str) -> tuple[list[int], list[int]]:
    """The submissions and users whose site id, label or name (or group's) hold ``word``.

    Read first, from their small tables: the listing's condition then names them
    by id, which PostgreSQL estimates and finds by index like any other condition.
    """
    pattern = like_pattern(word)

    def like(column: Any) -> ColumnElement[bool]:
        return column.ilike(pattern, escape="\\")

    submissions = db.scalars(
        select(Submission.id)
        .join(Group, Group.id == Submission.group_id)
        .where(
            or_(
                like(Submission.site_id),
                like(Submission.label),
                like(Group.site_id),
                like(Group.name),
            )
        )
    ).all()
    users = db.scalars(select(User.id).where(or_(like(User.site_id), like(User.fullname)))).all()
    return list(submissions), list(users)


# The submitted sets whose search text the worker has yet to write (``logic.search_texts``),
# with the texts they will have, computed from their values by the database (migration
# 0018). One common table expression: however many words read it, a statement computes
# it once, and with every text written it is an empty look-up in a small partial index.
_UNWRITTEN_TEXTS = func.unwritten_search_texts().table_valued(
    sql_column("set_id", Integer), sql_column("search_text", Text)
)
UNWRITTEN = select(_UNWRITTEN_TEXTS.c.set_id, _UNWRITTEN_TEXTS.c.search_text).cte("unwritten")


def _unwritten_match(lowered_pattern: ColumnElement[str]) -> ColumnElement[bool]:
    """The set is one whose text is still to be written and will match the pattern.

    ``= ANY(ARRAY(...))``: the matching ids are read once, before the sets, and are then
    a condition on the primary key, which PostgreSQL combines (BitmapOr) with the index
    of the written texts; ``IN (subquery)`` inside an OR would test every set in turn.
    """
    matching = select(UNWRITTEN.c.set_id).where(
        UNWRITTEN.c.search_text.like(lowered_pattern, escape="\\")
    )
    return MetaDataSet.id == any_(func.array(matching.scalar_subquery()))


def word_condition(
    word: str,
    service_columns: Sequence[int],
    named: tuple[Sequence[int], Sequence[int]] = ((), ()),
) -> ColumnElement[bool]:
    """The set matches ``word`` in a site id, a name, the submission's label or a value.

    Values, the set's and its files' site ids: one condition on the set's search text
    (kept by the database, lower-cased, trigram-indexed), one row per set whatever its
    number of values; for sets submitted so recently that the worker has not yet
    written their text, on the text they will have (``UNWRITTEN``). Names and labels,
    which can change, are matched in their own small tables first (``named``: the
    submissions and users ``named_by`` the word).
    The text leaves out service columns: ``service_columns`` names those the caller
    may read, whose values (and file site ids) are matched apart.
    """
    pattern = like_pattern(word)
    # Lower-cased by PostgreSQL's lower(), the text and the word: ILIKE's own rule.
    lowered = func.lower(pattern)
    conditions = [
        MetaDataSet.search_text.like(lowered, escape="\\"),
        # Sets submitted a moment ago, whose text the worker has not yet written.
        _unwritten_match(lowered),
    ]
    submissions, users = named
    if submissions:
        conditions.append(MetaDataSet.submission_id.in_(submissions))
    if users:
        conditions.append(MetaDataSet.user_id.in_(users))
    if service_columns:
        # An alias: the inner statement must not be correlated with the outer one.
        cell = aliased(MetaDatumRecord)
        of_services = cell.metadatum_id.in_(service_columns)
        found = union_all(
            select(cell.metadataset_id).where(of_services, cell.value.ilike(pattern, escape="\\")),
            select(cell.metadataset_id)
            .join(File, File.id == cell.file_id)
            .where(of_services, File.site_id.ilike(pattern, escape="\\")),
        )
        conditions.append(MetaDataSet.id.in_(found))
    return or_(*conditions)


def no_match() -> ColumnElement[bool]:
    return false()


@dataclass(frozen=True)
class SortOrder:
    """A sort by a field of every set (``field``) or by a sheet column (``column``)."""

    descending: bool
    field: str | None = None
    column: Definition | None = None


def parse_sort(spec: str, columns: Sequence[Definition]) -> SortOrder:
    """``[-]<field>`` or ``[-]record.<column name>``; a leading ``-`` sorts descending."""
    descending = spec.startswith("-")
    name = spec[1:] if descending else spec
    if name in SORT_FIELDS:
        return SortOrder(descending, field=name)
    if name.startswith(RECORD_PREFIX):
        wanted = name[len(RECORD_PREFIX) :]
        for column in columns:
            if column.name == wanted:
                return SortOrder(descending, column=column)
    raise _invalid(
        "sort",
        f"Cannot sort by {name!r}: use one of {', '.join(SORT_FIELDS)}, or record.<column>"
        " for a column you can see.",
    )


# Values in a column's index order that a page sorted by the column reads at most
# (beyond its offset) before it sorts every matching set instead (``column_page``).
WALK = 5000


def _sort_value(cell: Any) -> Any:
    """What a sort by a column compares: the value's first SORT_PREFIX characters, the
    very expression of the index of each column's values (migration 0014)."""
    return func.left(cell.value, literal_column(str(SORT_PREFIX)))


def ordered(statement: Any, order: SortOrder) -> Any:
    """``statement`` sorted by ``order``; empty values last either way, then by set id.

    A sheet column's values are outer-joined, and PostgreSQL chooses how: a look-up
    by the primary key for each of a few matching sets, a hash join of the column's
    values when many match (its estimates of the search text's conditions are good).
    ``column_page`` reads one page in the same order without sorting every set.
    """
    if order.column is not None:
        cell = aliased(MetaDatumRecord)
        statement = statement.outerjoin(
            cell, and_(cell.metadataset_id == MetaDataSet.id, cell.metadatum_id == order.column.id)
        )
        key: Any = _sort_value(cell)
    else:
        key = {
            "id": MetaDataSet.id,
            "submission": Submission.label,
            "submittedAt": Submission.date,
            "user": User.fullname,
            "group": Group.name,
        }[order.field or "id"]
    if order.descending:
        return statement.order_by(key.desc().nulls_last(), MetaDataSet.id.desc())
    return statement.order_by(key.asc().nulls_last(), MetaDataSet.id)


def column_page(
    db: Session, matching: Select, order: SortOrder, limit: int, offset: int
) -> list[int]:
    """The ids of one page of the sets ``matching`` selects, in ``ordered``'s order by a
    sheet column, without sorting every matching set when it need not.

    The sets with a value in the column come first: the first values in the order of
    the column's index are read (``WALK`` beyond the page's end, no more), and those
    of matching sets make the page. When they are too few, the matching sets are
    rare among the first values (a selective search, or one whose matches sort
    late): then every matching set is sorted, as ``ordered`` does, which is cheap
    for few. When every value was read and the page is not full, the sets without a
    value follow, by id.
    """
    assert order.column is not None
    direction = sa_desc if order.descending else sa_asc
    cell = aliased(MetaDatumRecord)
    value = _sort_value(cell)
    walked = (
        select(cell.metadataset_id.label("id"), value.label("value"))
        .where(cell.metadatum_id == order.column.id, value.is_not(None))
        .order_by(direction(value), direction(cell.metadataset_id))
        .limit(WALK + offset + limit)
        .subquery()
    )
    ids = matching.with_only_columns(MetaDataSet.id)
    in_walk = ids.join(walked, walked.c.id == MetaDataSet.id)
    page = list(
        db.scalars(
            in_walk.order_by(direction(walked.c.value), direction(MetaDataSet.id))
            .limit(limit)
            .offset(offset)
        )
    )
    if len(page) == limit:
        return page
    if (db.scalar(select(func.count()).select_from(walked)) or 0) == WALK + offset + limit:
        # Values are left unread: matching sets are too rare among the first ones.
        return list(db.scalars(ordered(ids, order).limit(limit).offset(offset)))
    # Every value was read: the rest of the page are sets without one, from the first
    # of them on, or after as many as earlier pages showed.
    before = 0
    if not page:
        before = offset - (db.scalar(select(func.count()).select_from(in_walk.subquery())) or 0)
    has_value = exists().where(
        cell.metadataset_id == MetaDataSet.id,
        cell.metadatum_id == order.column.id,
        cell.value.is_not(None),
    )
    without_value = ids.where(~has_value).order_by(direction(MetaDataSet.id))
    page += db.scalars(without_value.limit(limit - len(page)).offset(max(before, 0)))
    return page
