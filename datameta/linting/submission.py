"""The rules a submission as a whole obeys: files match records by name, values are unique.

Pure functions over plain facts, so that /presubvalidation, /submissions and the
submit page all run exactly the same checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from datameta.linting import (
    NULL_BUT_MANDATORY,
    Column,
    compile_pattern,
    duplicated_values,
    pattern_message,
)

NO_DATA = "No data uploaded"
STILL_VERIFYING = (
    "The file's content is still being verified; submit it once its verification has finished"
)
VERIFICATION_FAILED = "The file's content failed verification"
ALREADY_SUBMITTED = "Already submitted"
NAME_TWICE_IN_FILES = "Filename occurs multiple times among provided files"
NAME_TWICE_IN_METADATA = "Filename occurs multiple times in metadata"
FILE_NOT_REFERENCED = "File included without reference in metadata"
FILE_NOT_PROVIDED = "Referenced file not provided"
NOT_UNIQUE_IN_SUBMISSION = "Violation of intra-submission unique constraint"
NOT_UNIQUE_ON_SITE = "Violation of global unique constraint"
NOT_A_STORED_DATE = "The stored value is not a valid date / time"


@dataclass(frozen=True)
class FileFacts:
    key: Hashable
    name: str
    uploaded: bool
    linked: bool
    # Of a file uploaded in parts: "verifying", "verified" or "failed" (None otherwise).
    verification: str | None = None


@dataclass(frozen=True)
class SetFacts:
    key: Hashable
    submitted: bool
    values: Mapping[str, str | None]  # column name -> stored value


@dataclass(frozen=True)
class Problem:
    """``kind`` is "metadataset" or "file"; ``key`` names the entity; ``field`` the column."""

    kind: str
    key: Hashable
    message: str
    field: str | None = None


def association_problems(
    sets: Sequence[SetFacts], files: Sequence[FileFacts], file_columns: Sequence[str]
) -> list[Problem]:
    """Files and records must match one to one by exact file name."""
    problems = []
    for file in files:
        if not file.uploaded:
            problems.append(Problem("file", file.key, _not_uploaded_message(file)))
        if file.linked:
            problems.append(Problem("file", file.key, ALREADY_SUBMITTED))
    problems.extend(
        Problem("metadataset", mset.key, ALREADY_SUBMITTED) for mset in sets if mset.submitted
    )
    name_counts = Counter(file.name for file in files)
    problems.extend(
        Problem("file", file.key, NAME_TWICE_IN_FILES)
        for file in files
        if name_counts[file.name] > 1
    )
    references = [
        (mset.key, column, mset.values.get(column))
        for mset in sets
        for column in file_columns
        if mset.values.get(column)
    ]
    reference_counts = Counter(name for _, _, name in references)
    provided = set(name_counts)
    for key, column, name in references:
        if reference_counts[name] > 1:
            problems.append(Problem("metadataset", key, NAME_TWICE_IN_METADATA, column))
        if name not in provided:
            problems.append(Problem("metadataset", key, FILE_NOT_PROVIDED, column))
    problems.extend(
        Problem("file", file.key, FILE_NOT_REFERENCED)
        for file in files
        if file.name not in reference_counts
    )
    return problems


def _not_uploaded_message(file: FileFacts) -> str:
    if file.verification == "verifying":
        return STILL_VERIFYING
    if file.verification == "failed":
        return VERIFICATION_FAILED
    return NO_DATA


def checks_stored_values(rule: Column) -> bool:
    """Whether ``stored_value_problem`` can find fault with any value of ``rule``."""
    return rule.mandatory or bool(rule.datetime_format) or bool(rule.pattern)


def columns_read(rules: Sequence[Column]) -> list[Column]:
    """The columns whose values the rules of a submission read (values, files, uniqueness);
    the values of others need not even be loaded (at 10,000 sets of 20 columns, loading
    all of them was the largest part of the app's time)."""
    return [
        rule
        for rule in rules
        if rule.is_file or rule.submission_unique or rule.site_unique or checks_stored_values(rule)
    ]


def stored_value_problems(rules: Sequence[Column], sets: Sequence[SetFacts]) -> list[Problem]:
    """Check stored values again: the definitions may have changed since staging."""
    problems = []
    checked = [rule for rule in rules if checks_stored_values(rule)]
    for mset in sets:
        for rule in checked:
            value = mset.values.get(rule.name)
            message = stored_value_problem(rule, value)
            if message:
                problems.append(Problem("metadataset", mset.key, message, rule.name))
    return problems


def stored_value_problem(rule: Column, value: str | None) -> str | None:
    """Why a stored (staged) value breaks ``rule``, or None: dates are stored in ISO 8601."""
    if not value:
        return NULL_BUT_MANDATORY if rule.mandatory else None
    if rule.datetime_format:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return NOT_A_STORED_DATE
        return None
    if rule.pattern and compile_pattern(rule.pattern).fullmatch(value) is None:
        return pattern_message(rule)
    return None


def uniqueness_problems(
    rules: Sequence[Column],
    sets: Sequence[SetFacts],
    taken_on_site: Mapping[str, set[str]],
) -> list[Problem]:
    """Unique columns: no value twice in the submission, site-unique ones not already submitted.

    ``taken_on_site`` maps each site-unique column to those of the submission's
    values that submitted metadatasets already hold.
    """
    by_key = {mset.key: mset.values for mset in sets}
    unique_columns = [rule.name for rule in rules if rule.submission_unique or rule.site_unique]
    problems = [
        Problem("metadataset", key, NOT_UNIQUE_IN_SUBMISSION, column)
        for key, column in duplicated_values(by_key, unique_columns)
    ]
    for rule in rules:
        taken = taken_on_site.get(rule.name, set())
        problems.extend(
            Problem("metadataset", mset.key, NOT_UNIQUE_ON_SITE, rule.name)
            for mset in sets
            if rule.site_unique and mset.values.get(rule.name) in taken
        )
    return problems
