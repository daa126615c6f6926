"""Rows of a tabular export from the rows the export statement reads: every set the same,
whether it has a value in every column (in the index's order) or not."""

from __future__ import annotations

from datetime import UTC, datetime

from datameta.api.serialize import RecordColumn, TableLayout
from datameta.linting import Column

# Defined out of id order: the display order is not the order values are read in.
COLUMNS = [
    RecordColumn(7, "SampleId", False, None, Column("SampleId")),
    RecordColumn(3, "Date", False, None, Column("Date", datetime_format="%d.%m.%Y")),
    RecordColumn(9, "Reads", True, None, Column("Reads", is_file=True)),
    RecordColumn(5, "Note", False, None, Column("Note")),
]
SUBMITTED = datetime(2026, 11, 30, 12, tzinfo=UTC)
FIXED = ["DMR-1", "DMS-1", "run", SUBMITTED, "DMU-1", "U", "DMG-1", "G"]
FIXED_CELLS = [*FIXED[:3], "2026-11-30T12:00:00+00:00", *FIXED[4:]]
FILES = [["9"], ["DMF-1"], ["42"], ["abc"]]


def test_a_set_with_every_value_in_index_order():
    values = [["3", "5", "7", "9"], ["2021-03-04", "0012", "S1", "a.fq"]]
    cells = TableLayout(COLUMNS, iso_dates=False).cells([*FIXED, values, FILES])
    assert cells == [*FIXED_CELLS, "S1", "04.03.2021", "a.fq", "DMF-1", "42", "abc", "0012"]


def test_a_set_missing_values_and_its_file():
    values = [["5", "7"], [None, "S2"]]
    cells = TableLayout(COLUMNS, iso_dates=True).cells([*FIXED, values, None])
    assert cells == [*FIXED_CELLS, "S2", None, None, None, None, None, None]


def test_a_set_without_any_value():
    cells = TableLayout(COLUMNS, iso_dates=True).cells([*FIXED, [], None])
    assert cells == [*FIXED_CELLS, *[None] * 7]


def test_columns_defined_in_id_order_are_taken_as_they_come():
    columns = sorted(COLUMNS, key=lambda column: column.id)
    values = [["3", "5", "7", "9"], ["2021-03-04", "0012", "S1", "a.fq"]]
    cells = TableLayout(columns, iso_dates=True).cells([*FIXED, values, FILES])
    assert cells == [*FIXED_CELLS, "2021-03-04", "0012", "S1", "a.fq", "DMF-1", "42", "abc"]
