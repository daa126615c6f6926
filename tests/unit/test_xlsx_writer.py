"""The streamed XLSX writer: what openpyxl reads back is exactly what was written, as text."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
import python_calamine

import datameta.api.xlsx
from datameta.api.xlsx import MAX_CELL_CHARS, column_letters, workbook_bytes

TRICKY = [
    "0012",  # leading zeros: text, not the number 12
    "2021-03-04",  # a date: text, not a date
    "a & b < c > d",
    "\"quoted\" and 'single'",
    "  spaces at both ends  ",
    "line one\nline two",
    "carriage\rreturn\r\n",
    "tab\tin the middle",
    "Grüße, 東京, emoji 🧬",
    "]]> and &amp; literally",
]


def read_back(data: bytes, **options) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data), **options).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def written(batches, **options) -> bytes:
    return b"".join(workbook_bytes(batches, **options))


def test_every_cell_reads_back_as_the_text_written():
    rows = [["header", "second"], *[[value, f"{index}"] for index, value in enumerate(TRICKY)]]
    data = written([rows[:3], rows[3:]])
    assert read_back(data) == rows
    # A second reader, of another make (Rust's calamine), reads the same.
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert book.get_sheet_by_index(0).to_python() == rows


def test_every_non_empty_cell_is_a_string_cell():
    data = written([[["12", "-12.5", "1e5", "TRUE", "2021-03-04T10:00:00"]]])
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [cell.data_type for cell in sheet[1]] == ["s"] * 5


def test_empty_cells_are_left_out_and_later_cells_keep_their_columns():
    data = written([[["a", None, "", "d"], [None, "b", None, ""]]])
    assert read_back(data) == [["a", None, None, "d"], [None, "b", None, None]]
    assert read_back(data, read_only=True) == [["a", None, None, "d"], [None, "b", None, None]]
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="D1" t="inlineStr">' in sheet
    assert 'r="B1"' not in sheet


def test_control_characters_are_written_as_excel_escapes_them():
    # XML 1.0 cannot hold them; Excel and LibreOffice read _xHHHH_ back as the character,
    # and the literal text of such an escape is escaped in turn (its underscore: _x005F_).
    data = written([[["bell\x07, escape\x1b", "_x0041_ is not A"]]])
    assert read_back(data) == [["bell_x0007_, escape_x001B_", "_x005F_x0041_ is not A"]]


def test_formula_like_cells_keep_their_text_with_the_quote_prefix():
    cells = ["=1+2", "+A1", "@SUM(A1)", "-2+3", "\t=x", "-12.5", "+3", "plain"]
    sheet = openpyxl.load_workbook(io.BytesIO(written([[cells]]))).active
    assert [cell.value for cell in sheet[1]] == cells
    assert [cell.quotePrefix for cell in sheet[1]] == [True] * 5 + [False] * 3


def test_text_longer_than_excel_allows_is_cut_to_its_limit():
    (row,) = read_back(written([[["x" * (MAX_CELL_CHARS + 10), "y"]]]))
    assert row == ["x" * MAX_CELL_CHARS, "y"]


def test_columns_past_z_are_named_as_spreadsheets_name_them():
    assert [column_letters(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]
    row = [f"c{i}" for i in range(60)]
    assert read_back(written([[row]])) == [row]


def test_the_workbook_is_streamed_one_chunk_per_batch():
    batches = [[[f"S{batch}{row}", "v"] for row in range(100)] for batch in range(5)]
    chunks = list(workbook_bytes(iter(batches)))
    assert len(chunks) == 6  # one per batch, then the end of the archive
    assert chunks[0].startswith(b"PK")
    assert zipfile.ZipFile(io.BytesIO(b"".join(chunks))).testzip() is None


def test_the_sheet_is_named_and_read_in_read_only_mode_too():
    data = written([[["a", "b"], ["c", None]]], sheet_name="Metadatasets")
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["Metadatasets"]
    assert [list(row) for row in book.active.iter_rows(values_only=True)] == [
        ["a", "b"],
        ["c", None],
    ]


@pytest.mark.parametrize("value", TRICKY)
def test_one_tricky_value_alone_in_a_row_of_plain_ones(value):
    row = ["plain", value, "plain"]
    assert read_back(written([[row]])) == [row]


def test_rows_beyond_excels_limit_are_left_out(monkeypatch):
    monkeypatch.setattr(datameta.api.xlsx, "MAX_ROWS", 3)
    rows = [[f"r{number}"] for number in range(5)]
    assert read_back(written([rows[:2], rows[2:]])) == rows[:3]
