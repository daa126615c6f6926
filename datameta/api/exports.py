"""Exports of submitted metadatasets as CSV, TSV, XLSX or JSON, written batch by batch.

The tabular writers take batches of rows of cells (``serialize.table_cells``), the
JSON writer batches of ``serialize.export_json`` items; each yields the file's
bytes, and memory holds one batch at a time (XLSX: one row, see ``_xlsx``).

Cells that a spreadsheet program would take for a formula (see ``FORMULA_STARTS``)
are shown as text: CSV and TSV put an apostrophe before them, XLSX marks the cell
with the quote-prefix style and keeps its text as it is. A value that is a number
and nothing else (``-12.5``, ``+3``, ``-1e5``) is no formula and stays as it is.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import xlsxwriter

from datameta.api.streaming import json_array

MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
READ_SIZE = 1024 * 1024

Batches = Iterator[list[Any]]
Cells = Sequence[str | None]

# What makes a spreadsheet program read a cell as a formula (or, for tab and
# carriage return, what it strips before reading one): the first character.
FORMULA_STARTS = frozenset("=+-@\t\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_formula_like(cell: str | None) -> bool:
    """The cell would be read as a formula: it starts so, and is not just a number."""
    return bool(cell and cell[0] in FORMULA_STARTS and not NUMBER.fullmatch(cell))


def as_text(cell: str | None) -> str | None:
    """A CSV/TSV cell that spreadsheet programs show as the text it is."""
    if cell and cell[0] in FORMULA_STARTS and not NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _closing(batches: Batches) -> None:
    # A client that goes away closes the writer; the batches (and their cursor) too.
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _delimited(delimiter: str) -> Callable[[Cells, Batches], Iterator[bytes]]:
    def write(header: Cells, batches: Batches) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([as_text(title) for title in header])
        try:
            yield buffer.getvalue().encode()
            for batch in batches:
                buffer.seek(0)
                buffer.truncate()
                # The csv module writes None as an empty field.
                writer.writerows([as_text(cell) for cell in row] for row in batch)
                yield buffer.getvalue().encode()
        finally:
            _closing(batches)

    return write


def _json(header: Cells, batches: Batches) -> Iterator[bytes]:
    return json_array(batches)


def _xlsx(header: Cells, batches: Batches) -> Iterator[bytes]:
    """An XLSX file written row by row to a temporary file, then sent.

    XlsxWriter's constant-memory mode flushes each row to disk and writes strings
    inline, so memory stays flat; every cell is text, so leading zeros and
    date-like values stay as they were submitted.
    """
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
        sheet = workbook.add_worksheet("Metadatasets")
        # Shown as text, never read as a formula, even when edited.
        quoted = workbook.add_format({"quote_prefix": True})
        try:
            for row, cells in enumerate(_with_header(header, batches)):
                for column, cell in enumerate(cells):
                    if cell:
                        sheet.write_string(
                            row, column, cell, quoted if is_formula_like(cell) else None
                        )
        finally:
            _closing(batches)
        workbook.close()
        with open(path, "rb") as stream:
            while chunk := stream.read(READ_SIZE):
                yield chunk
    finally:
        os.unlink(path)


def _with_header(header: Cells, batches: Batches) -> Iterator[Cells]:
    yield header
    for batch in batches:
        yield from batch


WRITERS: dict[str, Callable[[Cells, Batches], Iterator[bytes]]] = {
    "csv": _delimited(","),
    "tsv": _delimited("\t"),
    "xlsx": _xlsx,
    "json": _json,
}


def export_bytes(file_format: str, header: Cells, batches: Batches) -> Iterator[bytes]:
    """The bytes of an export in ``file_format`` (one of MEDIA_TYPES): of rows of cells
    for the tabular formats, of ``export_json`` items for JSON."""
    return WRITERS[file_format](header, batches)
