"""Reading sample sheets: every conversion rule, one case each, on files built in memory."""

import codecs
import io
import tracemalloc
import zipfile
from datetime import date, datetime
from datetime import time as clock

import pytest
from openpyxl import Workbook

from datameta import samplesheet
from datameta.linting import Column
from datameta.samplesheet import SheetRefused, decode_text, read_sample_sheet

COLUMNS = [
    Column("SampleId", mandatory=True),
    Column("Collected", datetime_format="%d.%m.%Y"),
    Column("Note"),
]


def xlsx(*rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def values(data, columns=COLUMNS):
    return [row.values for row in read_sample_sheet(data, columns)]


def one_value(cell, column="Note"):
    """What an xlsx cell holding ``cell`` in ``column`` reads as."""
    return values(xlsx(["SampleId", column], ["S1", cell]))[0][column]


# Excel cells


def test_a_date_cell_is_written_in_the_columns_format():
    assert one_value(date(2024, 1, 31), "Collected") == "31.01.2024"


def test_a_datetime_cell_is_written_in_the_columns_format():
    assert one_value(datetime(2024, 1, 31, 13, 45), "Collected") == "31.01.2024"


def test_a_date_cell_in_a_column_without_format_is_iso():
    assert one_value(datetime(2024, 1, 31)) == "2024-01-31"


def test_a_time_cell_is_iso_without_a_format():
    assert one_value(clock(13, 45, 10)) == "13:45:10"


def test_whole_numbers_have_no_trailing_zero():
    assert one_value(42) == "42"
    assert one_value(42.0) == "42"


def test_fractions_keep_their_digits():
    assert one_value(0.1) == "0.1"


def test_text_cells_keep_leading_zeros():
    assert one_value("00123") == "00123"


def test_booleans_read_as_written():
    assert one_value(True) == "TRUE"
    assert one_value(False) == "FALSE"


def test_empty_cells_are_empty():
    assert one_value(None) is None


def test_empty_rows_are_skipped_and_row_numbers_are_the_sheets():
    data = xlsx(["SampleId", "Note"], ["S1", "a"], [None, None], ["S2", "b"])
    rows = read_sample_sheet(data, COLUMNS)
    assert [(row.number, row.values["SampleId"]) for row in rows] == [(2, "S1"), (4, "S2")]


def test_columns_missing_from_the_sheet_are_not_in_the_values():
    assert values(xlsx(["SampleId"], ["S1"])) == [{"SampleId": "S1"}]


def test_a_cell_longer_than_the_limit_is_reported_not_kept():
    data = xlsx(["SampleId", "Note"], ["S1", "x" * (samplesheet.MAX_CELL_CHARACTERS + 1)])
    [row] = read_sample_sheet(data, COLUMNS)
    assert row.values["Note"] is None
    assert row.problems[0].column == "Note"
    assert "longer than" in row.problems[0].message


def test_values_right_of_the_last_named_column_are_reported():
    [row] = read_sample_sheet(xlsx(["SampleId", "Note"], ["S1", "a", "stray"]), COLUMNS)
    assert row.problems[0].message == "The row has values beyond the last named column."


# The header


def test_the_header_must_name_the_mandatory_columns():
    with pytest.raises(SheetRefused, match="Missing mandatory columns: SampleId"):
        read_sample_sheet(xlsx(["Note"], ["a"]), COLUMNS)


def test_unknown_columns_are_named():
    with pytest.raises(SheetRefused, match="Unknown columns: sampleid, Extra"):
        read_sample_sheet(xlsx(["SampleId", "sampleid", "Extra"], ["S1"]), COLUMNS)


def test_a_column_named_twice_is_refused():
    with pytest.raises(SheetRefused, match="Columns named twice: Note"):
        read_sample_sheet(xlsx(["SampleId", "Note", "Note"]), COLUMNS)


def test_a_sheet_without_header_is_refused():
    with pytest.raises(SheetRefused, match="no header"):
        read_sample_sheet(xlsx([None, None]), COLUMNS)


# Text sheets


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_csv_with_either_line_end(line_end):
    text = line_end.join(["SampleId,Note", "S1,a", "S2,b"]) + line_end
    assert values(text.encode()) == [
        {"SampleId": "S1", "Note": "a"},
        {"SampleId": "S2", "Note": "b"},
    ]


@pytest.mark.parametrize("delimiter", ["\t", ";", ","])
def test_the_delimiter_is_detected(delimiter):
    text = f"SampleId{delimiter}Note\nS1{delimiter}a b\n"
    assert values(text.encode()) == [{"SampleId": "S1", "Note": "a b"}]


def test_utf8_with_byte_order_mark():
    data = codecs.BOM_UTF8 + "SampleId,Note\nS1,Größe\n".encode()
    assert values(data) == [{"SampleId": "S1", "Note": "Größe"}]


def test_utf16_as_excel_writes_unicode_text():
    data = "SampleId\tNote\r\nS1\tµl\r\n".encode("utf-16")  # with BOM, as Excel does
    assert values(data) == [{"SampleId": "S1", "Note": "µl"}]


def test_latin1():
    data = "SampleId;Note\nS1;Größe\n".encode("latin-1")
    assert values(data) == [{"SampleId": "S1", "Note": "Größe"}]


def test_quoted_fields_may_hold_newlines_and_delimiters():
    data = b'SampleId,Note\nS1,"two\nlines, one cell"\nS2,x\n'
    rows = read_sample_sheet(data, COLUMNS)
    assert rows[0].values["Note"] == "two\nlines, one cell"
    assert [row.number for row in rows] == [2, 3]


def test_comment_lines_before_the_header_are_skipped():
    data = b"# SampleId: mandatory\n# Example: S1\tx\nSampleId\tNote\nS1\tx\n"
    rows = read_sample_sheet(data, COLUMNS)
    assert [(row.number, row.values) for row in rows] == [(4, {"SampleId": "S1", "Note": "x"})]


def test_text_keeps_leading_zeros_and_text_dates_as_written():
    assert values(b"SampleId,Collected\n007,31.01.2024\n") == [
        {"SampleId": "007", "Collected": "31.01.2024"}
    ]


def test_decoding_falls_back_to_windows_1252():
    assert decode_text("Größe € µ".encode("cp1252")) == "Größe € µ"


# Hostile files


def test_a_file_that_is_no_sheet_is_refused():
    with pytest.raises(SheetRefused):
        read_sample_sheet(bytes(range(256)) * 10, COLUMNS)


def test_an_old_excel_file_is_refused_with_advice():
    with pytest.raises(SheetRefused, match=r"save the sheet as \.xlsx"):
        read_sample_sheet(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 512, COLUMNS)


def test_an_empty_file_is_refused():
    with pytest.raises(SheetRefused, match="empty"):
        read_sample_sheet(b"  \n", COLUMNS)


def test_a_zip_bomb_is_refused_before_unpacking():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (400 * 1024 * 1024))
    data = buffer.getvalue()
    tracemalloc.start()
    try:
        with pytest.raises(SheetRefused, match="unpacks to far more"):
            read_sample_sheet(data, COLUMNS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Unpacking would take 400 MiB; refusing it takes next to nothing.
    assert peak < 20 * 1024 * 1024


def test_a_million_columns_are_refused():
    # How long this takes is measured by benchmarks/bench_hostile_input.py.
    data = ("SampleId" + ",x" * 1_000_000 + "\n").encode()
    with pytest.raises(SheetRefused, match="more than 1000 columns"):
        read_sample_sheet(data, COLUMNS)


def test_a_gigantic_text_cell_is_refused():
    data = b"SampleId,Note\nS1," + b"x" * 1_000_000 + b"\n"
    with pytest.raises(SheetRefused, match="Row 2 cannot be read"):
        read_sample_sheet(data, COLUMNS)


def test_too_many_rows_are_refused(monkeypatch):
    monkeypatch.setattr(samplesheet, "MAX_ROWS", 3)
    data = ("SampleId\n" + "".join(f"S{i}\n" for i in range(5))).encode()
    with pytest.raises(SheetRefused, match="more than 3 data rows"):
        read_sample_sheet(data, COLUMNS)


def test_a_too_large_file_is_refused(monkeypatch):
    monkeypatch.setattr(samplesheet, "MAX_BYTES", 10)
    with pytest.raises(SheetRefused, match="larger than"):
        read_sample_sheet(b"SampleId\nS1\nS2\n", COLUMNS)
