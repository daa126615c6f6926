"""Exports of submitted metadatasets as CSV, TSV, XLSX or JSON, written batch by batch.

The tabular writers take batches of rows of cells (``serialize.TableLayout``), the
JSON writer batches of ``serialize.export_json`` items; each yields the file's
bytes, and memory holds one batch at a time.

Cells that a spreadsheet program would take for a formula (``datameta.api.formulas``)
are shown as text: CSV and TSV put an apostrophe before them, XLSX marks the cell
with the quote-prefix style and keeps its text as it is. A value that is a number
and nothing else (``-12.5``, ``+3``, ``-1e5``) is no formula and stays as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from datameta.api.formulas import FORMULA_STARTS, as_text
from datameta.api.streaming import json_array
from datameta.api.xlsx import workbook_bytes

MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}

Batches = Iterator[list[Any]]
Cells = Sequence[str | None]


def _closing(batches: Batches) -> None:
    # A client that goes away closes the writer; the batches (and their cursor) too.
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _delimited(delimiter: str) -> Callable[[Cells, Batches], Iterator[bytes]]:
    # A row whose joined line holds none of these, and no delimiter but those
    # between its cells, is written as it is: nothing to quote, no formula-like
    # cell. (A cell starting with the delimiter itself adds one to the count.)
    special = ('"', "\r", "\n", *(delimiter + start for start in FORMULA_STARTS - {delimiter}))

    def write(header: Cells, batches: Batches) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([as_text(title) for title in header])
        delimiters = len(header) - 1
        try:
            yield buffer.getvalue().encode()
            for batch in batches:
                buffer.seek(0)
                buffer.truncate()
                for row in batch:
                    line = delimiter.join([cell or "" for cell in row])
                    if (
                        line.count(delimiter) == delimiters
                        and line[:1] not in FORMULA_STARTS
                        and not any(text in line for text in special)
                    ):
                        buffer.write(line + "\r\n")
                    else:
                        # The csv module quotes as needed and writes None as an empty field.
                        writer.writerow([as_text(cell) for cell in row])
                yield buffer.getvalue().encode()
        finally:
            _closing(batches)

    return write


def _json(header: Cells, batches: Batches) -> Iterator[bytes]:
    return json_array(batches)


def _xlsx(header: Cells, batches: Batches) -> Iterator[bytes]:
    """An XLSX workbook of text cells, streamed batch by batch (``datameta.api.xlsx``).

    Every cell is text, so leading zeros and date-like values stay as they were
    submitted; formula-like cells keep their text in a quote-prefixed cell.
    """
    try:
        yield from workbook_bytes(_with_header(header, batches), sheet_name="Metadatasets")
    finally:
        _closing(batches)


def _with_header(header: Cells, batches: Batches) -> Iterator[Sequence[Cells]]:
    yield [header]
    yield from batches


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
