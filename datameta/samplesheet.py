"""Reading sample sheets (xlsx, csv, tsv) into rows of text, changing nothing silently.

Pure: no Pyramid, no database. The header row names the columns; every later
non-empty row becomes a ``SheetRow`` of text values keyed by column name, with
the row number a person sees in their spreadsheet. Checking the values is the
job of ``datameta.linting``, the same code that checks the API's records.

Excel cells keep what they show: a date cell in a date column is written in the
column's format (so that the format parses it back), whole numbers lose the
``.0`` their binary form carries, text keeps its leading zeros, booleans read as
TRUE/FALSE. Hostile files (not a sheet, zip bombs, huge headers or cells, too
many rows) are refused with a clear message before they cost much time or memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from datameta.linting import Column

MAX_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
MAX_COMPRESSION_RATIO = 150
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000
MAX_CELL_CHARACTERS = 10_000

XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DELIMITERS = "\t;,"


class SheetRefused(Exception):
    """The sheet as a whole cannot be read; ``problems`` says why, in words for people."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class CellProblem:
    column: str | None
    value: str | None
    message: str


@dataclass
class SheetRow:
    number: int
    values: dict[str, str | None]
    problems: list[CellProblem] = field(default_factory=list)


def read_sample_sheet(data: bytes, columns: Sequence[Column]) -> list[SheetRow]:
    """The data rows of a sample sheet, or SheetRefused naming what is wrong with it."""
    if len(data) > MAX_BYTES:
        raise SheetRefused([f"The file is larger than {MAX_BYTES // 2**20} MiB."])
    if not data.strip():
        raise SheetRefused(["The file is empty."])
    if data.startswith(OLE2_MAGIC):
        raise SheetRefused(
            ["Old Excel files (.xls) cannot be read: please save the sheet as .xlsx or .csv."]
        )
    raw_rows = _xlsx_rows(data) if data.startswith(XLSX_MAGIC) else _text_rows(data)
    return _rows_by_header(raw_rows, columns)


# Matching the header and building rows


def _rows_by_header(
    raw_rows: Iterator[tuple[int, list[Any]]], columns: Sequence[Column]
) -> list[SheetRow]:
    header = _first_non_empty(raw_rows)
    names = [_header_text(cell) for cell in header]
    while names and not names[-1]:
        names.pop()
    _check_header(names, columns)
    by_name = {column.name: column for column in columns}
    positions = [(index, by_name[name]) for index, name in enumerate(names) if name]
    rows: list[SheetRow] = []
    for number, cells in raw_rows:
        if all(_is_empty(cell) for cell in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise SheetRefused([f"The sheet has more than {MAX_ROWS} data rows."])
        rows.append(_sheet_row(number, cells, positions, len(names)))
    return rows


def _first_non_empty(raw_rows: Iterator[tuple[int, list[Any]]]) -> list[Any]:
    for _, cells in raw_rows:
        if not all(_is_empty(cell) for cell in cells):
            return cells
    raise SheetRefused(["The sheet has no header row."])


def _header_text(cell: Any) -> str:
    return "" if cell is None else str(cell)


def _check_header(names: list[str], columns: Sequence[Column]) -> None:
    known = {column.name for column in columns}
    problems = []
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    if duplicates:
        problems.append(f"Columns named twice: {', '.join(duplicates)}.")
    if "" in names:
        positions = [str(index + 1) for index, name in enumerate(names) if not name]
        problems.append(f"Columns without a name in the header: number {', '.join(positions)}.")
    unknown = [name for name in names if name and name not in known]
    if unknown:
        problems.append(f"Unknown columns: {', '.join(unknown)}.")
    missing = [column.name for column in columns if column.mandatory and column.name not in names]
    if missing:
        problems.append(f"Missing mandatory columns: {', '.join(missing)}.")
    if problems:
        raise SheetRefused(problems)


def _sheet_row(
    number: int, cells: list[Any], positions: list[tuple[int, Column]], width: int
) -> SheetRow:
    row = SheetRow(number, {})
    for index, column in positions:
        cell = cells[index] if index < len(cells) else None
        text = _cell_text(cell, column)
        if text is not None and len(text) > MAX_CELL_CHARACTERS:
            row.problems.append(
                CellProblem(
                    column.name,
                    text[:50] + "…",
                    f"The value is longer than {MAX_CELL_CHARACTERS} characters.",
                )
            )
            text = None
        row.values[column.name] = text
    extra = [cell for cell in cells[width:] if not _is_empty(cell)]
    if extra:
        row.problems.append(
            CellProblem(None, str(extra[0]), "The row has values beyond the last named column.")
        )
    return row


def _is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and cell == "")


def _cell_text(cell: Any, column: Column) -> str | None:
    """What the cell shows, as text; dates in the column's own format when it has one."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, datetime | date | time):
        return _moment_text(cell, column.datetime_format)
    if isinstance(cell, timedelta):
        return str(cell)
    return str(cell)


def _moment_text(moment: datetime | date | time, datetime_format: str | None) -> str:
    if datetime_format:
        if isinstance(moment, time):
            moment = datetime.combine(date(1900, 1, 1), moment)
        elif not isinstance(moment, datetime):
            moment = datetime.combine(moment, time())
        return moment.strftime(datetime_format)
    if isinstance(moment, datetime) and moment.time() == time():
        return moment.date().isoformat()
    return moment.isoformat()


# xlsx


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    _check_zip(data)
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0)
        if sheet.total_width > MAX_COLUMNS + 1:
            raise SheetRefused([f"The sheet has more than {MAX_COLUMNS} columns."])
        if sheet.total_height > MAX_ROWS + 100:
            raise SheetRefused([f"The sheet has more than {MAX_ROWS} data rows."])
        rows = sheet.to_python(skip_empty_area=False)
    except (CalamineError, ValueError, TypeError) as error:
        raise SheetRefused([f"The file is not a readable xlsx workbook ({error})."]) from None
    # Without skipping the empty area, the first row is the sheet's row 1.
    return ((index + 1, list(cells)) for index, cells in enumerate(rows))


def _check_zip(data: bytes) -> None:
    """Refuse zip bombs before anything unpacks them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except zipfile.BadZipFile:
        raise SheetRefused(["The file is not a readable xlsx workbook."]) from None
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members) or 1
    if unpacked > MAX_UNCOMPRESSED_BYTES or unpacked / packed > MAX_COMPRESSION_RATIO:
        raise SheetRefused(["The workbook unpacks to far more than a sample sheet can hold."])


# csv and tsv


def decode_text(data: bytes) -> str:
    """Text in UTF-8 (with or without BOM), UTF-16 as Excel writes it, or Latin-1/Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:4096]
    if sample.count(b"\x00") > len(sample) // 4:  # UTF-16 without a byte order mark
        encoding = "utf-16-le" if sample[1:2] == b"\x00" else "utf-16-be"
        return data.decode(encoding, errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _text_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    text = decode_text(data)
    if "\x00" in text:
        raise SheetRefused(["The file is neither a spreadsheet nor text."])
    lines = text.splitlines(keepends=True)
    comments = 0
    while comments < len(lines) and lines[comments].startswith("#"):
        comments += 1
    body = "".join(lines[comments:])
    delimiter = _delimiter(body[:65536])
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, strict=False)
    return _numbered(reader, first=comments + 1)


def _delimiter(sample: str) -> str:
    header = sample.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
        return max(counts, key=lambda delimiter: counts[delimiter]) if any(counts.values()) else ","


def _numbered(reader: Any, first: int) -> Iterator[tuple[int, list[Any]]]:
    """Rows with their number as a spreadsheet shows them (one per record, from ``first``)."""
    number = first
    try:
        for cells in reader:
            if len(cells) > MAX_COLUMNS + 1:
                raise SheetRefused([f"Row {number} has more than {MAX_COLUMNS} columns."])
            yield number, cells
            number += 1
    except csv.Error as error:
        raise SheetRefused([f"Row {number} cannot be read: {error}."]) from None
