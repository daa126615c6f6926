"""XLSX writers side by side: CPU seconds per 10,000 rows of the export's shape.

    .venv/bin/python -m benchmarks.bench_xlsx [ROWS]     (default 100,000)

Rows as the export of ``bench_finding`` writes them (8 fixed cells, 20 values;
one row in 50 holds a formula-like value, one in 100 an ampersand), made in
memory: only the writer is timed (the time to make the rows is measured apart and
taken off), as process CPU time (steadier than wall-clock
time on a shared machine). Compared: the project's streamed writer
(``datameta.api.xlsx``) at two deflate levels, and XlsxWriter's constant-memory
writer, if it is installed. Each writer's output is read back by openpyxl
(read-only) to check it holds every row.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import openpyxl

from datameta.api.formulas import is_formula_like
from datameta.api.xlsx import workbook_bytes

BATCH = 1000


def rows(count: int) -> Iterator[list[list[str | None]]]:
    header = [f"H{index}" for index in range(28)]
    yield [header]
    for start in range(0, count, BATCH):
        batch = []
        for n in range(start, min(count, start + BATCH)):
            fixed = [
                f"DMR-B{n:09d}",
                "DMS-B0000001",
                "seeded",
                "2026-11-30T12:00:00.123456+00:00",
                "DMU-B0000001",
                "Bench User",
                "DMG-B0000001",
                "Bench",
            ]
            values = [f"S{n}", "2024-01-31"] + [f"value C{c:02d} {n}" for c in range(3, 21)]
            if n % 50 == 0:
                values[5] = "=1+2"
            if n % 100 == 0:
                values[6] = "A & B"
            if n % 7 == 0:
                values[7] = None
            batch.append(fixed + values)
        yield batch


def ours(level: int) -> Callable[[int], bytes]:
    def write(count: int) -> bytes:
        return b"".join(workbook_bytes(rows(count), compresslevel=level))

    return write


def xlsxwriter_constant_memory(count: int) -> bytes:
    import xlsxwriter  # optional: the project does not need it

    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True})
        sheet = workbook.add_worksheet()
        quoted = workbook.add_format({"quote_prefix": True})
        row = 0
        for batch in rows(count):
            for cells in batch:
                for column, cell in enumerate(cells):
                    if cell:
                        sheet.write_string(
                            row, column, cell, quoted if is_formula_like(cell) else None
                        )
                row += 1
        workbook.close()
        with open(path, "rb") as stream:
            return stream.read()
    finally:
        os.unlink(path)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    started = time.process_time()
    for _ in rows(count):
        pass
    making = time.process_time() - started
    writers: dict[str, Callable[[int], bytes]] = {
        "datameta.api.xlsx, deflate level 1": ours(1),
        "datameta.api.xlsx, deflate level 6": ours(6),
    }
    try:
        import xlsxwriter  # noqa: F401

        writers["XlsxWriter, constant memory"] = xlsxwriter_constant_memory
    except ImportError:
        pass
    print(
        f"{count:,} rows of 28 cells, load {os.getloadavg()[0]:.1f}; making the rows alone "
        f"took {making:.2f} s of CPU, taken off each writer's time below\n"
    )
    print("| writer | CPU s | CPU s per 10,000 rows | µs per cell | size | load |")
    print("|---|---|---|---|---|---|")
    for name, write in writers.items():
        started = time.process_time()
        data = write(count)
        cpu = time.process_time() - started - making
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        read = sum(1 for _ in book.active.iter_rows(values_only=True))
        assert read == count + 1, read
        print(
            f"| {name} | {cpu:.2f} | {cpu / count * 10_000:.3f} | {cpu / count / 28 * 1e6:.2f} "
            f"| {len(data) / 2**20:.1f} MiB | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
