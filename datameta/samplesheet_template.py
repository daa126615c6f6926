"""Sample-sheet templates (xlsx and tsv) made from the column definitions: pure, no Pyramid, no DB.

The header row names every column exactly as its definition does, because the
importer matches headers byte for byte. Everything else — which columns are
mandatory, their rules, an example row — is told around the data area, never in
it, so that a filled-in template imports without leftovers.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from datameta.linting import Column, vocabulary

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

# The date examples and format explanations are rendered from.
SAMPLE_DATETIME = datetime(2024, 1, 31, 13, 45, 0)

SAMPLES_SHEET = "Samples"
COLUMNS_SHEET = "Columns"
EXAMPLE_SHEET = "Example"
LISTS_SHEET = "Lists"  # hidden: the values of each vocabulary column, one column each
LAST_ROW = 1048576  # Excel's last row: a drop-down list covers the whole column
COLUMNS_HEADER = ("Name", "Mandatory", "Description", "Format/rule", "Unique", "Example")
EXAMPLE_ROW_LABEL = "Example row"
EXAMPLE_ROW_NOTE = (
    f'The sheet "{EXAMPLE_SHEET}" shows a filled-in row. Enter your data on the sheet '
    f'"{SAMPLES_SHEET}", one row per sample below the header; keep the header as it is.'
)
TSV_INTRO = (
    "# DataMeta sample sheet. Lines starting with # are comments. Give one sample per line"
    " below the header, values separated by tabs."
)
TSV_NO_COLUMNS = "# No columns are defined yet."

TEXT_FORMAT = "@"  # Excel's "Text": keeps leading zeros, no conversion to numbers or dates
MANDATORY_FILL = PatternFill("solid", fgColor="FFE699")
BOLD = Font(name="Calibri", size=11, bold=True)  # the default font, bold
WRAP = Alignment(wrap_text=True, vertical="top")
COMMENT_AUTHOR = "DataMeta"
MIN_WIDTH, MAX_WIDTH = 10, 60
MAX_CELL_TEXT = 32767  # Excel refuses longer cell texts


def _changes_with(datetime_format: str, other: datetime) -> bool:
    return SAMPLE_DATETIME.strftime(datetime_format) != other.strftime(datetime_format)


def datetime_kind(datetime_format: str) -> str:
    """ "Date", "Time" or "Date and time", after what the format shows."""
    shows_date = _changes_with(datetime_format, SAMPLE_DATETIME.replace(year=2023, month=2, day=3))
    shows_time = _changes_with(datetime_format, SAMPLE_DATETIME.replace(hour=4, minute=5, second=6))
    if shows_date and shows_time:
        return "Date and time"
    return "Time" if shows_time else "Date"


def example_value(column: Column) -> str:
    """The definition's example; for date columns without one, the sample date in its format."""
    if column.example or not column.datetime_format:
        return column.example
    return SAMPLE_DATETIME.strftime(column.datetime_format)


def rule_text(column: Column) -> str:
    """What a value must look like, in words."""
    rules = []
    if column.pattern and column.pattern_description:
        rules.append(f"{column.pattern_description} (regular expression: {column.pattern})")
    elif column.pattern:
        rules.append(f"The whole value must match the regular expression {column.pattern}")
    if column.datetime_format:
        written = SAMPLE_DATETIME.strftime(column.datetime_format)
        kind = datetime_kind(column.datetime_format)
        rules.append(f"{kind}, written as {written} (format {column.datetime_format})")
    if column.is_file:
        rules.append("Names a data file (its file name)")
    return "; ".join(rules) or "Any text"


def uniqueness_text(column: Column) -> str | None:
    """How unique a value must be, or None when it may repeat."""
    if column.site_unique:
        return "Unique across the site"
    if column.submission_unique:
        return "Unique within a submission"
    return None


def mandatory_text(column: Column) -> str:
    return "Mandatory" if column.mandatory else "Optional"


def comment_text(column: Column) -> str:
    """The comment on a column's header: everything a submitter needs to fill it in."""
    lines = [column.description] if column.description else []
    lines += [mandatory_text(column), f"Format: {rule_text(column)}"]
    if uniqueness := uniqueness_text(column):
        lines.append(uniqueness)
    if example := example_value(column):
        lines.append(f"Example: {example}")
    return "\n".join(lines)


# --- xlsx ---------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Text a workbook can hold: without control characters, at most Excel's cell length."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:MAX_CELL_TEXT]


def _text_cell(sheet: WriteOnlyWorksheet, text: str) -> Cell:
    cell = WriteOnlyCell(sheet, value=_clean(text))
    # A value starting with "=" would become a formula; the template holds text only.
    cell.data_type = "s"
    cell.number_format = TEXT_FORMAT
    return cell


def _header_cell(sheet: WriteOnlyWorksheet, column: Column) -> Cell:
    cell = _text_cell(sheet, column.name)
    text = _clean(comment_text(column))
    comment = Comment(text, COMMENT_AUTHOR)
    # Sized so the whole text shows when hovering (points; about 40 characters a line).
    comment.width = 300
    comment.height = 20 + 15 * sum(1 + len(line) // 40 for line in text.split("\n"))
    cell.comment = comment
    if column.mandatory:
        cell.font = BOLD
        cell.fill = MANDATORY_FILL
    return cell


def _set_widths(sheet: WriteOnlyWorksheet, widths: Sequence[int], *, text: bool) -> None:
    for index, width in enumerate(widths, start=1):
        # The stubs miss the dimensions WriteOnlyWorksheet sets up as Worksheet does.
        dimension = sheet.column_dimensions[get_column_letter(index)]  # type: ignore[attr-defined]
        dimension.width = max(MIN_WIDTH, min(MAX_WIDTH, width + 2))
        if text:
            # The column's own style, which Excel gives every cell typed into it.
            dimension.number_format = TEXT_FORMAT


def _data_width(column: Column) -> int:
    return max(len(column.name), len(example_value(column)))


def _vocabularies(columns: Sequence[Column]) -> dict[int, list[str]]:
    """Sheet column index (1-based) to its fixed list of values, for vocabulary columns."""
    found = {}
    for index, column in enumerate(columns, start=1):
        values = vocabulary(column.pattern)
        if values:
            found[index] = values
    return found


def _drop_down(column: Column, index: int, list_column: int, size: int) -> DataValidation:
    """A drop-down list of the values in the hidden sheet; Excel refuses other values."""
    letter = get_column_letter(list_column)
    source = f"{quote_sheetname(LISTS_SHEET)}!${letter}$1:${letter}${size}"
    validation = DataValidation(
        type="list",
        formula1=source,
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=_clean(column.name)[:32],
        error=_clean(column.pattern_description or "Choose a value from the list.")[:255],
    )
    target = get_column_letter(index)
    validation.add(f"{target}2:{target}{LAST_ROW}")
    return validation


def _samples_sheet(
    workbook: Workbook, columns: Sequence[Column], lists: dict[int, list[str]]
) -> None:
    sheet = workbook.create_sheet(SAMPLES_SHEET)
    sheet.freeze_panes = "A2"
    _set_widths(sheet, [_data_width(column) for column in columns], text=True)
    for list_column, (index, values) in enumerate(lists.items(), start=1):
        drop_down = _drop_down(columns[index - 1], index, list_column, len(values))
        sheet.data_validations.append(drop_down)
    if columns:
        sheet.append([_header_cell(sheet, column) for column in columns])


def _lists_sheet(workbook: Workbook, lists: dict[int, list[str]]) -> None:
    """The hidden sheet the drop-down lists take their values from (Excel limits inline lists)."""
    sheet = workbook.create_sheet(LISTS_SHEET)
    sheet.sheet_state = "hidden"
    value_lists = list(lists.values())
    for row in range(max(len(values) for values in value_lists)):
        sheet.append(
            [
                _text_cell(sheet, values[row]) if row < len(values) else None
                for values in value_lists
            ]
        )


def _columns_sheet(workbook: Workbook, columns: Sequence[Column]) -> None:
    sheet = workbook.create_sheet(COLUMNS_SHEET)
    sheet.freeze_panes = "A2"
    rows = [
        (
            column.name,
            "yes" if column.mandatory else "no",
            column.description or "",
            rule_text(column),
            uniqueness_text(column) or "no",
            example_value(column),
        )
        for column in columns
    ]
    widths = [len(title) for title in COLUMNS_HEADER]
    for row in rows:
        widths = [max(width, len(value)) for width, value in zip(widths, row, strict=True)]
    _set_widths(sheet, widths, text=False)
    header = []
    for title in COLUMNS_HEADER:
        cell = _text_cell(sheet, title)
        cell.font = BOLD
        header.append(cell)
    sheet.append(header)
    for row, column in zip(rows, columns, strict=True):
        cells = [_text_cell(sheet, value) for value in row]
        for cell in cells:
            cell.alignment = WRAP
        if column.mandatory:
            cells[0].font = BOLD
            cells[0].fill = MANDATORY_FILL
        sheet.append(cells)
    note = [_text_cell(sheet, EXAMPLE_ROW_LABEL), _text_cell(sheet, ""), _text_cell(sheet, "")]
    note[0].font = BOLD
    sheet.append([*note, _text_cell(sheet, EXAMPLE_ROW_NOTE)])


def _example_sheet(workbook: Workbook, columns: Sequence[Column]) -> None:
    sheet = workbook.create_sheet(EXAMPLE_SHEET)
    sheet.freeze_panes = "A2"
    _set_widths(sheet, [_data_width(column) for column in columns], text=True)
    if columns:
        header = [_text_cell(sheet, column.name) for column in columns]
        for cell, column in zip(header, columns, strict=True):
            if column.mandatory:
                cell.font = BOLD
                cell.fill = MANDATORY_FILL
        sheet.append(header)
        sheet.append([_text_cell(sheet, example_value(column)) for column in columns])


def xlsx_template(columns: Sequence[Column]) -> bytes:
    """The xlsx template: sheets "Samples" (header only), "Columns" (the rules), "Example".

    Columns whose pattern is a fixed list of values (``^(a|b|c)$``) get a drop-down
    list on "Samples", fed from a hidden last sheet "Lists".
    """
    # Write-only mode streams rows to the file instead of keeping a cell model in memory.
    workbook = Workbook(write_only=True)
    lists = _vocabularies(columns)
    _samples_sheet(workbook, columns, lists)
    _columns_sheet(workbook, columns)
    _example_sheet(workbook, columns)
    if lists:
        _lists_sheet(workbook, lists)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- tsv ----------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"[\t\r\n\v\f\x85\u2028\u2029]+")


def _one_line(text: str) -> str:
    """Text that stays inside its comment line or tab-separated field."""
    return _LINE_BREAKS.sub(" ", text).strip()


def _tsv_comment(column: Column) -> str:
    parts = [f"{column.name}: {mandatory_text(column).lower()}"]
    if column.description:
        parts.append(column.description.rstrip(" ."))
    parts.append(f"Format: {rule_text(column)}")
    if uniqueness := uniqueness_text(column):
        parts.append(uniqueness)
    if example := example_value(column):
        parts.append(f"Example: {example}")
    return "# " + _one_line(". ".join(parts))


def tsv_template(columns: Sequence[Column]) -> str:
    """The tsv template: "# " lines describing each column and an example row, then the header."""
    lines = [TSV_INTRO]
    if not columns:
        lines.append(TSV_NO_COLUMNS)
    else:
        lines += [_tsv_comment(column) for column in columns]
        example = "\t".join(_one_line(example_value(column)) for column in columns)
        lines.append(f"# Example: {example}")
        lines.append("\t".join(column.name for column in columns))
    return "\n".join(lines) + "\n"
