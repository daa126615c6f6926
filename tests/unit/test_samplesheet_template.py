"""Sample-sheet templates: what the xlsx and tsv files tell a submitter, read back."""

from __future__ import annotations

import io

import openpyxl
import pytest

from datameta.linting import Column
from datameta.samplesheet_template import (
    COLUMNS_HEADER,
    EXAMPLE_ROW_LABEL,
    LAST_ROW,
    LISTS_SHEET,
    comment_text,
    datetime_kind,
    example_value,
    rule_text,
    tsv_template,
    uniqueness_text,
    xlsx_template,
)

SAMPLE_ID = Column(
    name="SampleId",
    mandatory=True,
    description="The sample's identifier",
    pattern="S[0-9]+",
    pattern_description="S followed by digits",
    submission_unique=True,
    site_unique=True,
    example="S1",
)
DATE = Column(name="Collected on", datetime_format="%d.%m.%Y")
READS = Column(name="Reads", is_file=True, description="Raw reads", example="s1.fastq.gz")
ZIP = Column(name="zip code", pattern="[0-9]{5}", submission_unique=True, example="01234")
COLUMNS = [SAMPLE_ID, DATE, READS, ZIP]


def workbook(columns=COLUMNS) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(xlsx_template(columns)))


def header(sheet) -> list:
    return [cell.value for cell in next(sheet.iter_rows(min_row=1, max_row=1))]


def rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# --- what each column says --------------------------------------------------------------


def test_a_date_column_without_example_shows_the_sample_date_in_its_format():
    assert example_value(DATE) == "31.01.2024"


def test_a_date_column_keeps_its_own_example():
    column = Column(name="Day", datetime_format="%Y-%m-%d", example="2020-05-06")
    assert example_value(column) == "2020-05-06"


def test_other_columns_without_example_give_none():
    assert example_value(Column(name="Free")) == ""


@pytest.mark.parametrize(
    ("datetime_format", "kind"),
    [("%Y-%m-%d", "Date"), ("%H:%M", "Time"), ("%Y-%m-%dT%H:%M:%S", "Date and time")],
)
def test_a_format_is_called_date_time_or_both_after_what_it_shows(datetime_format, kind):
    assert datetime_kind(datetime_format) == kind


def test_a_date_rule_shows_how_the_date_is_written_and_the_format():
    column = Column(name="Day", datetime_format="%Y-%m-%d")
    assert rule_text(column) == "Date, written as 2024-01-31 (format %Y-%m-%d)"


def test_a_pattern_rule_gives_its_description_and_the_pattern():
    assert rule_text(SAMPLE_ID) == "S followed by digits (regular expression: S[0-9]+)"


def test_a_pattern_without_description_says_the_whole_value_must_match():
    assert rule_text(ZIP) == "The whole value must match the regular expression [0-9]{5}"


def test_a_file_column_says_it_names_a_data_file():
    assert rule_text(READS) == "Names a data file (its file name)"


def test_a_column_without_rules_takes_any_text():
    assert rule_text(Column(name="Notes")) == "Any text"


@pytest.mark.parametrize(
    ("column", "text"),
    [
        (SAMPLE_ID, "Unique across the site"),
        (ZIP, "Unique within a submission"),
        (Column(name="x", site_unique=True), "Unique across the site"),
        (DATE, None),
    ],
)
def test_uniqueness_is_named_site_before_submission(column, text):
    assert uniqueness_text(column) == text


def test_the_comment_gives_description_mandatory_rule_uniqueness_and_example():
    assert comment_text(SAMPLE_ID) == (
        "The sample's identifier\n"
        "Mandatory\n"
        "Format: S followed by digits (regular expression: S[0-9]+)\n"
        "Unique across the site\n"
        "Example: S1"
    )


def test_the_comment_of_an_optional_date_column():
    assert comment_text(DATE) == (
        "Optional\nFormat: Date, written as 31.01.2024 (format %d.%m.%Y)\nExample: 31.01.2024"
    )


# --- xlsx: the Samples sheet ------------------------------------------------------------


def test_the_sheets_are_samples_columns_and_example_in_this_order():
    assert workbook().sheetnames == ["Samples", "Columns", "Example"]


def test_the_header_row_names_the_columns_exactly_and_in_the_given_order():
    names = ["Zeta", " spaced  name ", "Ünïcode µ", "=not a formula", "007"]
    sheet = workbook([Column(name=name) for name in names])["Samples"]
    assert header(sheet) == names
    assert all(cell.data_type == "s" for cell in sheet[1])


def test_the_samples_sheet_holds_no_data_below_the_header():
    sheet = workbook()["Samples"]
    assert sheet.max_row == 1


def test_mandatory_headers_are_bold_and_filled_optional_ones_are_not():
    sheet = workbook()["Samples"]
    mandatory, optional = sheet["A1"], sheet["B1"]
    assert mandatory.font.b and mandatory.fill.fill_type == "solid"
    assert not optional.font.b and optional.fill.fill_type is None


def test_every_header_carries_its_description_as_comment():
    sheet = workbook()["Samples"]
    for cell, column in zip(sheet[1], COLUMNS, strict=True):
        assert cell.comment.text == comment_text(column)
    assert "Mandatory" in sheet["A1"].comment.text
    assert "Optional" in sheet["B1"].comment.text
    assert "Names a data file" in sheet["C1"].comment.text


def test_every_data_column_is_formatted_as_text():
    sheet = workbook()["Samples"]
    for letter in "ABCD":
        assert sheet.column_dimensions[letter].number_format == "@"


def test_the_header_row_is_frozen():
    assert workbook()["Samples"].freeze_panes == "A2"


def test_columns_are_wide_enough_for_names_and_examples_within_bounds():
    long_name = Column(name="x" * 200)
    sheet = workbook([SAMPLE_ID, long_name, DATE])["Samples"]
    assert sheet.column_dimensions["A"].width >= 10
    assert sheet.column_dimensions["B"].width == 60
    assert sheet.column_dimensions["C"].width >= len("Collected on")


# --- xlsx: the Columns and Example sheets -----------------------------------------------


def test_the_columns_sheet_describes_one_column_a_row():
    table = rows(workbook()["Columns"])
    assert table[0] == list(COLUMNS_HEADER)
    assert table[1] == [
        "SampleId",
        "yes",
        "The sample's identifier",
        "S followed by digits (regular expression: S[0-9]+)",
        "Unique across the site",
        "S1",
    ]
    assert table[2] == [
        "Collected on",
        "no",
        None,
        "Date, written as 31.01.2024 (format %d.%m.%Y)",
        "no",
        "31.01.2024",
    ]
    assert table[4][5] == "01234"  # a text cell: the leading zero stays


def test_the_columns_sheet_ends_with_a_note_on_the_example_row():
    last = rows(workbook()["Columns"])[-1]
    assert last[0] == EXAMPLE_ROW_LABEL
    assert "Example" in last[3] and "Samples" in last[3]


def test_the_example_sheet_repeats_the_header_and_gives_one_example_row():
    table = rows(workbook()["Example"])
    assert table == [
        ["SampleId", "Collected on", "Reads", "zip code"],
        ["S1", "31.01.2024", "s1.fastq.gz", "01234"],
    ]


def test_the_example_row_is_text_so_leading_zeros_and_dates_stay_as_written():
    sheet = workbook()["Example"]
    assert all(cell.data_type == "s" and cell.number_format == "@" for cell in sheet[2])


def test_control_characters_cannot_break_the_workbook():
    column = Column(name="Notes", description="line\x01one", example="a\x02b")
    sheet = workbook([column])["Example"]
    assert rows(sheet)[1] == ["ab"]


def test_no_columns_still_make_a_valid_workbook():
    book = workbook([])
    assert book.sheetnames == ["Samples", "Columns", "Example"]
    assert header(book["Samples"]) == [None]
    assert rows(book["Columns"])[0] == list(COLUMNS_HEADER)


# --- tsv ----------------------------------------------------------------------------------


def test_the_tsv_header_is_the_last_line_with_exact_names_in_order():
    lines = tsv_template(COLUMNS).split("\n")
    assert lines[-1] == ""  # ends with a line feed
    assert lines[-2] == "SampleId\tCollected on\tReads\tzip code"


def test_every_tsv_line_but_the_header_is_a_comment():
    lines = tsv_template(COLUMNS).rstrip("\n").split("\n")
    assert all(line.startswith("# ") for line in lines[:-1])
    assert not lines[-1].startswith("#")


def test_the_tsv_describes_each_column():
    text = tsv_template(COLUMNS)
    assert (
        "# SampleId: mandatory. The sample's identifier. Format: S followed by digits "
        "(regular expression: S[0-9]+). Unique across the site. Example: S1\n"
    ) in text
    assert (
        "# Collected on: optional. Format: Date, written as 31.01.2024 (format %d.%m.%Y). "
        "Example: 31.01.2024\n"
    ) in text
    assert "# Reads: optional. Raw reads. Format: Names a data file" in text


def test_the_tsv_gives_a_tab_separated_example_row():
    assert "# Example: S1\t31.01.2024\ts1.fastq.gz\t01234\n" in tsv_template(COLUMNS)


def test_line_breaks_in_descriptions_stay_inside_their_comment():
    column = Column(name="Notes", description="first\nsecond\tthird", example="a\nb")
    lines = tsv_template([column]).rstrip("\n").split("\n")
    assert lines[-1] == "Notes"
    assert "# Notes: optional. first second third. Format: Any text. Example: a b" in lines
    assert "# Example: a b" in lines


def test_the_tsv_uses_lf_and_no_bom():
    text = tsv_template(COLUMNS)
    assert "\r" not in text
    assert not text.startswith("\ufeff")


def test_no_columns_give_a_tsv_of_comments_only():
    lines = tsv_template([]).rstrip("\n").split("\n")
    assert all(line.startswith("# ") for line in lines)


# --- xlsx: drop-down lists of vocabulary columns ----------------------------------------

ORGAN = Column(name="Organ", pattern="^(liver|heart|big\\|small)$", pattern_description="An organ")
SEX = Column(name="Sex", pattern="(f|m)", mandatory=True)


def test_a_vocabulary_column_offers_its_values_as_a_drop_down_list():
    book = workbook([SAMPLE_ID, ORGAN, SEX])
    validations = book["Samples"].data_validations.dataValidation
    assert [(v.type, str(v.sqref)) for v in validations] == [
        ("list", f"B2:B{LAST_ROW}"),
        ("list", f"C2:C{LAST_ROW}"),
    ]
    lists = book[LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    assert rows(lists) == [["liver", "f"], ["heart", "m"], ["big|small", None]]
    organ = validations[0]
    assert organ.formula1 == "'Lists'!$A$1:$A$3"
    # Other values are refused with the column's own message, as the server would.
    assert organ.showErrorMessage and organ.error == "An organ"


def test_the_lists_sheet_comes_last_so_the_samples_sheet_stays_first():
    assert workbook([ORGAN]).sheetnames == ["Samples", "Columns", "Example", LISTS_SHEET]


def test_columns_without_a_vocabulary_get_no_drop_down_and_no_lists_sheet():
    book = workbook()
    assert book["Samples"].data_validations.dataValidation == []
    assert LISTS_SHEET not in book.sheetnames
