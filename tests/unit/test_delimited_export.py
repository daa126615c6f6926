"""CSV and TSV exports: rows written as they are when nothing needs quoting or guarding,
and byte for byte what the csv module writes of the guarded cells in every case."""

from __future__ import annotations

import csv
import io
import random

import pytest

from datameta.api.exports import export_bytes
from datameta.api.formulas import as_text

PIECES = ["", "a", "value 12", ",", ";", '"', "\r", "\n", "\t", "=", "-", "+", "@", " ", "1", "é"]


def expected(header, rows, delimiter) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in [header, *rows]:
        writer.writerow([as_text(cell) for cell in row])
    return buffer.getvalue().encode()


def cell(chance: random.Random) -> str | None:
    if chance.random() < 0.1:
        return None
    return "".join(chance.choice(PIECES) for _ in range(chance.randint(0, 4)))


@pytest.mark.parametrize(("file_format", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_every_row_is_written_as_the_csv_module_writes_its_guarded_cells(file_format, delimiter):
    chance = random.Random(20261130)
    header = ["Record", "=Name", "Value, with a comma", "Note"]
    rows = [[cell(chance) for _ in header] for _ in range(3000)]
    rows += [["S1", "-12.5", "0012", None], ["\tx", "a\tb", "", "=1+2"], ["x", "", "", ""]]
    batches = iter([rows[:1000], rows[1000:2000], rows[2000:]])
    assert b"".join(export_bytes(file_format, header, batches)) == expected(header, rows, delimiter)


def test_plain_rows_are_one_line_each():
    body = b"".join(export_bytes("csv", ["a", "b"], iter([[["1", None], ["x y", "z"]]])))
    assert body == b"a,b\r\n1,\r\nx y,z\r\n"
