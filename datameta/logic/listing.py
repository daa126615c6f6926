"""Finding submitted metadatasets: search words, column filters and sort orders as SQL.

Everything here turns what a caller asks for into SQL conditions and orderings;
nothing is filtered or sorted in Python. Column names are resolved against the
columns the caller may see, so a service's values can neither be searched nor
sorted by those who may not read them (such a column is unknown to them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, union_all
from sqlalchemy.orm import aliased

from datameta.errors import ErrorItem, ValidationFailed
from datameta.logic.metadata import Definition
from datameta.models import File, Group, MetaDataSet, MetaDatum, MetaDatumRecord, Submission, User

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


def word_condition(
    word: str, searchable: Callable[[Any], ColumnElement[bool]] | None
) -> ColumnElement[bool]:
    """The set matches ``word`` in a site id, a name, the submission's label or a value.

    ``searchable`` limits the values searched (to columns the caller may see). One IN
    over the union of the sets each kind of match finds: PostgreSQL finds each part by
    its own index, estimates their sizes well, and so filters before it sorts.
    """
    pattern = like_pattern(word)

    def like(column: Any) -> ColumnElement[bool]:
        return column.ilike(pattern, escape="\\")

    # Aliases: an inner statement must not be correlated with the outer one's tables.
    cell, mset, submission, user, group = (
        aliased(MetaDatumRecord),
        aliased(MetaDataSet),
        aliased(Submission),
        aliased(User),
        aliased(Group),
    )
    in_values = select(cell.metadataset_id).where(like(cell.value))
    if searchable is not None:
        in_values = in_values.where(searchable(cell))
    found = union_all(
        in_values,
        select(cell.metadataset_id).join(File, File.id == cell.file_id).where(like(File.site_id)),
        select(mset.id).where(like(mset.site_id)),
        select(mset.id)
        .join(submission, submission.id == mset.submission_id)
        .where(or_(like(submission.site_id), like(submission.label))),
        select(mset.id)
        .join(user, user.id == mset.user_id)
        .where(or_(like(user.site_id), like(user.fullname))),
        select(mset.id)
        .join(submission, submission.id == mset.submission_id)
        .join(group, group.id == submission.group_id)
        .where(or_(like(group.site_id), like(group.name))),
    )
    return MetaDataSet.id.in_(found)


def searchable_values(
    show_service_values: bool,
) -> Callable[[Any], ColumnElement[bool]] | None:
    """Which values search words may match: a service's only for those who may read them."""
    if show_service_values:
        return None
    submitters = select(MetaDatum.id).where(MetaDatum.service_id.is_(None))
    return lambda cell: cell.metadatum_id.in_(submitters)


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


def ordered(statement: Any, order: SortOrder, *, narrowed: bool) -> Any:
    """``statement`` sorted by ``order``; empty values last either way, then by set id.

    ``narrowed``: words or filters select the sets, so few may match.
    """
    if order.column is not None and narrowed:
        # The value looked up by the primary key for each set that matches, after the
        # filters: cheaper than joining every set's value of the column before them.
        key: Any = (
            select(MetaDatumRecord.value)
            .where(
                MetaDatumRecord.metadataset_id == MetaDataSet.id,
                MetaDatumRecord.metadatum_id == order.column.id,
            )
            .scalar_subquery()
        )
    elif order.column is not None:
        # Every set in the order: one hash join of the column's values beats a look-up each.
        cell = aliased(MetaDatumRecord)
        statement = statement.outerjoin(
            cell, and_(cell.metadataset_id == MetaDataSet.id, cell.metadatum_id == order.column.id)
        )
        key = cell.value
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
