"""Exports of submitted metadatasets as CSV, TSV, XLSX or JSON, written batch by batch.

Each writer takes the batches of ``serialize.export_json`` items and yields the
file's bytes; memory holds one batch at a time (XLSX: one row, see ``_xlsx``).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import xlsxwriter

from datameta.api.serialize import export_cells
from datameta.api.streaming import json_array

MEDIA_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
READ_SIZE = 1024 * 1024

Batches = Iterator[list[dict[str, Any]]]


def _closing(batches: Batches) -> None:
    # A client that goes away closes the writer; the batches (and their cursor) too.
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _delimited(delimiter: str) -> Callable[[list[str], Batches], Iterator[bytes]]:
    def write(header: list[str], batches: Batches) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        try:
            yield buffer.getvalue().encode()
            for batch in batches:
                buffer.seek(0)
                buffer.truncate()
                # The csv module writes None as an empty field.
                writer.writerows(export_cells(item) for item in batch)
                yield buffer.getvalue().encode()
        finally:
            _closing(batches)

    return write


def _json(header: list[str], batches: Batches) -> Iterator[bytes]:
    return json_array(batches)


def _xlsx(header: list[str], batches: Batches) -> Iterator[bytes]:
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
        for column, title in enumerate(header):
            sheet.write_string(0, column, title)
        row = 1
        try:
            for batch in batches:
                for item in batch:
                    for column, cell in enumerate(export_cells(item)):
                        if cell:
                            sheet.write_string(row, column, cell)
                    row += 1
        finally:
            _closing(batches)
        workbook.close()
        with open(path, "rb") as stream:
            while chunk := stream.read(READ_SIZE):
                yield chunk
    finally:
        os.unlink(path)


WRITERS: dict[str, Callable[[list[str], Batches], Iterator[bytes]]] = {
    "csv": _delimited(","),
    "tsv": _delimited("\t"),
    "xlsx": _xlsx,
    "json": _json,
}


def export_bytes(file_format: str, header: list[str], batches: Batches) -> Iterator[bytes]:
    """The bytes of an export in ``file_format`` (one of MEDIA_TYPES)."""
    return WRITERS[file_format](header, batches)
