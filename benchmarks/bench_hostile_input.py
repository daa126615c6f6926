"""Hostile input: how long the pure rules take to refuse or survive it.

    .venv/bin/python -m benchmarks.bench_hostile_input   (needs no services)

The unit tests check what the answer is; the times are measured here, where a
slow machine cannot make a test fail.
"""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
from collections.abc import Callable
from typing import Any

from datameta.linting import Column, lint_record
from datameta.samplesheet import SheetRefused, read_sample_sheet

COLUMNS = [Column("SampleId")]


def seconds(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(SheetRefused):  # refusing is the expected outcome
        action()
    return time.perf_counter() - started


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (400 * 1024 * 1024))
    return buffer.getvalue()


def main() -> None:
    rule = Column("X", pattern="(a+)+$")
    cases: list[tuple[str, Callable[[], Any]]] = [
        (
            "pattern (a+)+$ on 50,000 a and a b",
            lambda: lint_record([rule], {"X": "a" * 50_000 + "b"}),
        ),
        (
            "csv header of 1,000,000 columns",
            lambda: read_sample_sheet(("SampleId" + ",x" * 1_000_000 + "\n").encode(), COLUMNS),
        ),
    ]
    bomb = zip_bomb()
    cases.append(("xlsx unpacking to 400 MiB", lambda: read_sample_sheet(bomb, COLUMNS)))
    print("| input | time |\n|---|---|")
    for name, action in cases:
        print(f"| {name} | {seconds(action):.3f} s |")


if __name__ == "__main__":
    main()
