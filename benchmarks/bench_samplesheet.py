"""Sample-sheet import: upload to staged, for xlsx and csv of growing size.

    .venv/bin/python -m benchmarks.bench_samplesheet   (needs `make run`'s services)

A sheet of N rows x 20 columns (sample id, a date, numbers, text, a file name)
goes through POST /samplesheets in-process; reports time, time per 1000 rows,
peak Python memory and SQL statements.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import sqlalchemy as sa
from openpyxl import Workbook

from benchmarks.bench_api import api_key
from benchmarks.common import bench_app, peak_memory, scratch_database, timed
from benchmarks.seed import COLUMNS, add_group_and_user, define_columns

HEADER = [f"C{index:02d}" for index in range(1, COLUMNS + 1)]


def sheet_rows(count: int) -> list[list]:
    start = date(2020, 1, 1)
    return [
        [f"S{row}", start + timedelta(days=row % 1000), row, row * 0.25]
        + [f"value {column} {row}" for column in range(5, COLUMNS)]
        + [f"file-{row}.fq"]
        for row in range(count)
    ]


def xlsx_bytes(count: int) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for row in sheet_rows(count):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in sheet_rows(count):
        writer.writerow([cell.isoformat() if isinstance(cell, date) else cell for cell in row])
    return buffer.getvalue().encode()


def prepare(name: str):
    url, environ = scratch_database(name)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        define_columns(connection, file_column=True)
        connection.execute(
            sa.text("UPDATE metadata SET datetimefmt = '%Y-%m-%d' WHERE name = 'C02'")
        )
        _, user_id = add_group_and_user(connection)
    token = api_key(engine, user_id)
    engine.dispose()
    client, app = bench_app(environ)
    return client, app.registry["dbengine"], {"Authorization": f"Bearer {token}"}


def bench(kind: str, count: int) -> str:
    content = xlsx_bytes(count) if kind == "xlsx" else csv_bytes(count)

    def upload(client, headers):
        return lambda: client.post(
            "/api/v1/samplesheets",
            upload_files=[("file", f"sheet.{kind}", content)],
            headers=headers,
        )

    client, engine, headers = prepare(f"datameta_bench_sheet_{kind}")
    seconds, statements, response = timed(engine, upload(client, headers))
    report = response.json
    assert len(report["staged"]) == count, report["rejected"][:3]
    client, engine, headers = prepare(f"datameta_bench_sheet_{kind}")
    peak, _ = peak_memory(upload(client, headers))
    return (
        f"| {kind} | {count} x {COLUMNS} | {len(content) / 2**20:.1f} MiB | {seconds:.2f} s "
        f"| {1000 * seconds / count:.2f} s | {peak:.0f} MiB | {statements} |"
    )


def main() -> None:
    print(
        "| format | rows x columns | file | upload to staged | per 1000 rows | peak memory "
        "| SQL statements |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in ("xlsx", "csv"):
        for count in (1000, 10_000):
            print(bench(kind, count), flush=True)


if __name__ == "__main__":
    main()
