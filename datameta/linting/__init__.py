"""The rules values must obey: pure functions, shared by the API and the sample-sheet import.

Nothing here imports Pyramid or the database, so every rule is unit-tested in
milliseconds and there is exactly one place where a rule is decided.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Any

import re2

# Messages of DataMeta 1.x, which scripts may look for.
NOT_SPECIFIED = "Field was not specified but is mandatory"
NULL_BUT_MANDATORY = "Field value was null, but the field is mandatory"
EMPTY_BUT_MANDATORY = "Field value was empty, but the field is mandatory"
NOT_A_DATE = "The field could not be parsed as a valid date / time"
NOT_EXPECTED = "The field was not expected."

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is reported to the admin, not to stderr

# Regular expressions run on RE2: linear time, so no pattern can hang the server.
# The price: no backreferences or lookaround, which admins are told when saving.
MAX_PATTERN_LENGTH = 2000


class InvalidPattern(ValueError):
    """A regular expression that cannot be used; the message says why."""


@dataclass(frozen=True)
class Column:
    """One sample-sheet column as its definition describes it.

    The one description of a column that checking values, reading sheets and
    writing templates share; ``logic.metadata.column_of`` makes it from the model.
    """

    name: str
    _: KW_ONLY
    mandatory: bool = False
    pattern: str | None = None
    pattern_description: str | None = None  # said instead of the pattern when a value fails it
    datetime_format: str | None = None
    is_file: bool = False
    # True for site-unique columns too: unique across the site is unique within a submission.
    submission_unique: bool = False
    site_unique: bool = False
    description: str | None = None  # help for submitters
    example: str = ""


@dataclass(frozen=True)
class LintError:
    field: str
    message: str


@dataclass
class LintResult:
    """A record's values as they are to be stored (dates in ISO 8601), and its problems."""

    values: dict[str, str | None] = field(default_factory=dict)
    errors: list[LintError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern, or InvalidPattern with the reason."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidPattern(f"The regular expression is longer than {MAX_PATTERN_LENGTH}.")
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as error:
        reason = (
            error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else error
        )
        raise InvalidPattern(
            f"The regular expression is not valid: {reason}. Backreferences and "
            "lookaround are not supported."
        ) from None


def datetime_format_problem(datetime_format: str) -> str | None:
    """Why ``datetime_format`` cannot parse and print dates, or None when it can."""
    if "%" not in datetime_format:
        return "The date/time format must contain at least one % directive, e.g. %Y-%m-%d."
    probe = datetime(2001, 2, 3, 4, 5, 6)
    try:
        text = probe.strftime(datetime_format)
        datetime.strptime(text, datetime_format)
    except ValueError as error:
        return f"The date/time format is not valid: {error}."
    return None


# What a literal alternative may hold: plain characters, or any character escaped with "\\".
_LITERAL = r"(?:[^\\.^$|?*+()\[\]{}]|\\[^A-Za-z0-9])+"
_VOCABULARY = re.compile(rf"\^?\(((?:{_LITERAL})(?:\|{_LITERAL})*)\)\$?")
_ALTERNATIVE = re.compile(rf"{_LITERAL}")


def vocabulary(pattern: str | None) -> list[str] | None:
    """The fixed list of values ``pattern`` allows, when it has the form ``^(a|b|c)$``.

    Each value is a literal with its special characters escaped by a backslash,
    as the admin page's list helper writes them; anything else (classes,
    repetition, escapes such as ``\\d``) is no vocabulary and answers None.
    Values match whole cells either way, so ``^`` and ``$`` may be left out.
    """
    if not pattern:
        return None
    found = _VOCABULARY.fullmatch(pattern)
    if found is None:
        return None
    values = [re.sub(r"\\(.)", r"\1", item) for item in _ALTERNATIVE.findall(found.group(1))]
    return list(dict.fromkeys(values))


def pattern_message(rule: Column) -> str:
    if rule.pattern_description:
        return rule.pattern_description
    return f"The value does not match the required format ({rule.pattern})."


def to_text(value: Any) -> str | None:
    """Values arrive as JSON: keep strings, write numbers and booleans as text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_datetime(text: str, datetime_format: str) -> datetime | None:
    try:
        return datetime.strptime(text, datetime_format)
    except ValueError:
        return None


def lint_value(rule: Column, value: str | None) -> tuple[str | None, str | None]:
    """(value to store, problem) for one value of one column."""
    if value is None:
        return None, NULL_BUT_MANDATORY if rule.mandatory else None
    if value == "":
        return None, EMPTY_BUT_MANDATORY if rule.mandatory else None
    if rule.pattern and compile_pattern(rule.pattern).fullmatch(value) is None:
        return value, pattern_message(rule)
    if rule.datetime_format:
        parsed = parse_datetime(value, rule.datetime_format)
        if parsed is None:
            return value, NOT_A_DATE
        return parsed.isoformat(), None
    return value, None


def lint_record(rules: Sequence[Column], record: Mapping[str, Any]) -> LintResult:
    """Check a record against every column rule; collect all problems, one per field."""
    result = LintResult()
    known = {rule.name for rule in rules}
    for rule in rules:
        if rule.name not in record:
            result.values[rule.name] = None
            if rule.mandatory:
                result.errors.append(LintError(rule.name, NOT_SPECIFIED))
            continue
        stored, problem = lint_value(rule, to_text(record[rule.name]))
        result.values[rule.name] = stored
        if problem:
            result.errors.append(LintError(rule.name, problem))
    result.errors.extend(LintError(name, NOT_EXPECTED) for name in record if name not in known)
    return result


def render_value(rule: Column, stored: str | None) -> str | None:
    """A stored value as users see it: dates in the column's own format."""
    if stored is None or not rule.datetime_format:
        return stored
    try:
        return datetime.fromisoformat(stored).strftime(rule.datetime_format)
    except ValueError:
        return stored


def duplicated_values(
    records: Mapping[Any, Mapping[str, str | None]], columns: Iterable[str]
) -> list[tuple[Any, str]]:
    """(record key, column) for every non-empty value that occurs more than once in a column."""
    found: list[tuple[Any, str]] = []
    for column in columns:
        seen: dict[str, list[Any]] = {}
        for key, values in records.items():
            value = values.get(column)
            if value:
                seen.setdefault(value, []).append(key)
        found.extend((key, column) for keys in seen.values() if len(keys) > 1 for key in keys)
    return found
