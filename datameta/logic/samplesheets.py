"""Importing sample sheets: every valid row staged, every problem reported at its cell."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from datameta.errors import ErrorItem, ValidationFailed
from datameta.linting import lint_record
from datameta.logic.metadata import submitter_definitions
from datameta.logic.metadatasets import StagedRef, insert_checked
from datameta.models import User
from datameta.samplesheet import CellProblem, SheetRefused, SheetRow, read_sample_sheet


@dataclass
class RejectedRow:
    row: int
    problems: list[CellProblem]


@dataclass
class SheetReport:
    dry_run: bool
    rows_read: int
    staged: list[StagedRef] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def _duplicate_problem(row: SheetRow, seen: dict[tuple, int]) -> CellProblem | None:
    """A row equal to an earlier one is reported (and not staged twice), never dropped silently."""
    key = tuple(sorted(row.values.items()))
    first = seen.setdefault(key, row.number)
    if first == row.number:
        return None
    return CellProblem(None, None, f"The row repeats row {first}.")


def import_sample_sheet(db: Session, actor: User, data: bytes, *, dry_run: bool) -> SheetReport:
    """Read, check and (unless ``dry_run``) stage a sample sheet; raise when it is unreadable."""
    definitions = submitter_definitions(db)
    columns = [definition.column for definition in definitions]
    try:
        rows = read_sample_sheet(data, columns)
    except SheetRefused as refused:
        raise ValidationFailed(
            [ErrorItem(message=problem, field="file") for problem in refused.problems]
        ) from None
    report = SheetReport(dry_run=dry_run, rows_read=len(rows))
    accepted: list[dict[str, str | None]] = []
    seen: dict[tuple, int] = {}
    for row in rows:
        checked = lint_record(columns, row.values)
        problems = list(row.problems)
        problems += [
            CellProblem(error.field, row.values.get(error.field), error.message)
            for error in checked.errors
        ]
        if duplicate := _duplicate_problem(row, seen):
            problems.append(duplicate)
        if problems:
            report.rejected.append(RejectedRow(row.number, problems))
        else:
            accepted.append(checked.values)
    if not dry_run:
        report.staged = insert_checked(db, actor, definitions, accepted)
    return report
