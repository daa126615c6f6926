"""Finding and exporting submitted sets: GET /metadatasets with q, filter, sort and format.

    .venv/bin/python -m benchmarks.bench_finding [--reuse]     (or: make bench)

``--reuse`` takes the database a previous run seeded (seeding takes minutes).

Over 100,000 submitted sets of 20 values, the app served by waitress in a process
of its own as in production (response validation off):

- the View page's first page (25 sets, format=json, with the total) for one search
  word, a sort on a sheet column, a column filter; timed by the client over
  loopback (server time plus a millisecond), best and median of 5 after a warm-up,
  and the database's own time for the page's statements and for its count
  (EXPLAIN ANALYZE);
- exports of every set as CSV and XLSX: time to the first byte, the time at each
  10,000 rows (XLSX: its sheet inflated as it arrives, rows counted), the total,
  the app process's CPU time (user + system, from /proc), and the growth of its
  peak memory (VmHWM).

Each line names the 1-minute load average when it was measured: on a shared machine
wall-clock times are upper bounds; the app's CPU time and the plans are steadier.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import zlib
from typing import Any

import requests
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from benchmarks.bench_api import api_key
from benchmarks.bench_listing_stream import memory_kib, start_app
from benchmarks.common import ROOT, scratch_database, stack_environ
from benchmarks.seed import seed_submitted

COUNT = 100_000
DATABASE = "datameta_bench_finding"
NO_JIT = {"options": "-c jit=off"}  # as the app's engine (datameta.db)
PAGES = {
    "one selective word, sort by a column": {"q": "S4242", "sort": "-record.C05"},
    "one word matching every set, sort by a column": {"q": "value", "sort": "-record.C05"},
    "no word, sort by a column": {"sort": "record.C05"},
    "one word and a column filter": {"q": "s42", "filter": "C07:contains:C07 42"},
    "newest first (the View page's default)": {"sort": "-submittedAt"},
}


def seed() -> tuple[sa.Engine, dict[str, str], str]:
    url, environ = scratch_database(DATABASE)
    engine = sa.create_engine(url, connect_args=NO_JIT)
    user_id = seed_submitted(engine, COUNT)
    return engine, environ, api_key(engine, user_id)


def reuse() -> tuple[sa.Engine, dict[str, str], str]:
    """The database a previous run seeded, migrated to the newest revision (``--reuse``)."""
    environ = stack_environ()
    url = make_url(environ["DATAMETA_SQLALCHEMY_URL"]).set(database=DATABASE)
    rendered = url.render_as_string(hide_password=False)
    config = AlembicConfig(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = rendered
    command.upgrade(config, "head")
    environ["DATAMETA_SQLALCHEMY_URL"] = rendered
    engine = sa.create_engine(rendered, connect_args=NO_JIT)
    with engine.connect() as connection:
        user_id = connection.execute(
            sa.text("SELECT id FROM users WHERE site_id = 'DMU-B0000001'")
        ).scalar_one()
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    return engine, environ, api_key(engine, user_id)


def page_times(url: str, headers: dict[str, str], params: dict[str, str]) -> tuple[list, str]:
    query = {**params, "format": "json", "limit": "25", "offset": "0"}
    times = []
    total = ""
    for _ in range(6):
        started = time.perf_counter()
        response = requests.get(f"{url}/api/v1/metadatasets", query, headers=headers, timeout=60)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        total = response.headers["X-Total-Count"]
    return times[1:], total  # the first one warms caches


def explain_page(engine: sa.Engine, params: dict[str, str]) -> tuple[float, float]:
    """Database time (ms) of the page's statements and of its count, by EXPLAIN ANALYZE.

    The page's statements are those the app runs for it once it knows the total
    (``page_statement``: for a sort by a column among many sets, the look-up of the
    page's ids first), each explained with its parameters as the app sends them
    (psycopg2 fills them in).
    """
    from datameta.logic.metadatasets import SubmittedQuery, count_statement, page_statement
    from datameta.models import User

    filters = (params["filter"],) if "filter" in params else ()
    query = SubmittedQuery(
        search=params.get("q"), filters=filters, sort=params.get("sort"), limit=25
    )
    with Session(engine) as db:
        actor = db.scalar(sa.select(User).where(User.site_id == "DMU-B0000001"))
        assert actor is not None
        ran: list[tuple[str, Any]] = []

        def record(conn, cursor, statement, parameters, context, executemany) -> None:
            ran.append((statement, parameters))

        total = db.scalar(count_statement(db, actor, query))
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            page = page_statement(db, actor, query, total)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        cursor = db.connection().connection.cursor()

        def explained(statement: str, parameters: Any) -> float:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
            return cursor.fetchone()[0][0]["Execution Time"]

        def compiled(statement: sa.Select) -> tuple[str, Any]:
            done = statement.compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            return str(done), done.params

        page_ms = sum(explained(*statement) for statement in [*ran, compiled(page)])
        count_ms = explained(*compiled(count_statement(db, actor, query)))
    return page_ms, count_ms


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


class SheetRows:
    """Counts the rows of an XLSX export as it arrives: its sheet, the last part of the
    zip, is inflated on the fly and its row ends counted."""

    SHEET = b"xl/worksheets/sheet1.xml"

    def __init__(self) -> None:
        self.head = b""
        self.inflate: Any = None
        self.tail = b""

    def count(self, chunk: bytes) -> int:
        if self.inflate is None:
            self.head += chunk
            at = self.head.find(self.SHEET)
            if at < 0 or len(self.head) < at + len(self.SHEET) + 64:
                return 0
            # The local header: 30 bytes, the name, then its extra field (zip64 sizes).
            start = at - 30
            extra = int.from_bytes(self.head[start + 28 : start + 30], "little")
            chunk = self.head[at + len(self.SHEET) + extra :]
            self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        text = self.tail + self.inflate.decompress(chunk)
        self.tail = text[-5:]  # a row end split between two chunks
        return text.count(b"</row>") - self.tail.count(b"</row>")


def export(url: str, headers: dict[str, str], pid: int, file_format: str) -> dict:
    """Read a whole export as it arrives; the time at each 10,000 rows and the memory."""
    before = memory_kib(pid)["VmHWM"]
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    first_byte = None
    size = rows = 0
    marks = []
    sheet = SheetRows()
    with requests.get(
        f"{url}/api/v1/metadatasets",
        {"format": file_format},
        headers=headers,
        stream=True,
        timeout=600,
    ) as response:
        assert response.status_code == 200, response.text
        for chunk in response.iter_content(chunk_size=1 << 16):
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            ended = chunk.count(b"\r\n") if file_format == "csv" else sheet.count(chunk)
            for _ in range(ended):
                rows += 1
                if rows > 1 and (rows - 1) % 10_000 == 0:
                    marks.append(time.perf_counter() - started)
    seconds = time.perf_counter() - started
    assert rows == COUNT + 1, rows
    return {
        "first_byte": first_byte or 0.0,
        "seconds": seconds,
        "size": size,
        "marks": marks,
        "growth": (memory_kib(pid)["VmHWM"] - before) / 1024,
        "cpu": cpu_seconds(pid) - cpu_before,
    }


def main() -> None:
    engine, environ, token = reuse() if "--reuse" in sys.argv else seed()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    process, url = start_app(environ)
    try:
        print(f"{COUNT:,} submitted sets of 20 values\n")
        print("| page of 25 with the total | total | best | median | DB: page | DB: count | load |")
        print("|---|---|---|---|---|---|---|")
        for name, params in PAGES.items():
            times, total = page_times(url, headers, params)
            page_ms, count_ms = explain_page(engine, params)
            print(
                f"| {name} (`{'&'.join(f'{k}={v}' for k, v in params.items())}`) | {total} "
                f"| {min(times) * 1000:.0f} ms | {statistics.median(times) * 1000:.0f} ms "
                f"| {page_ms:.0f} ms | {count_ms:.0f} ms | {load()} |",
                flush=True,
            )
        # Warm the export path once (imports, the workbook writer).
        requests.get(
            f"{url}/api/v1/metadatasets",
            {"format": "xlsx", "limit": "10"},
            headers=headers,
            timeout=60,
        )
        print(
            "\n| export of every set | first byte | total | app CPU | size | app peak growth "
            "| load |"
        )
        print("|---|---|---|---|---|---|---|")
        for file_format in ("csv", "xlsx"):
            result = export(url, headers, process.pid, file_format)
            print(
                f"| {file_format} | {result['first_byte']:.2f} s | {result['seconds']:.1f} s "
                f"| {result['cpu']:.1f} s | {result['size'] / 2**20:.0f} MiB "
                f"| {result['growth']:+.1f} MiB | {load()} |",
                flush=True,
            )
            if result["marks"]:
                steps = [result["marks"][0]] + [
                    b - a for a, b in zip(result["marks"], result["marks"][1:], strict=False)
                ]
                print(
                    f"\n{file_format.upper()} seconds per 10,000 rows: "
                    + ", ".join(f"{step:.2f}" for step in steps)
                    + "\n"
                )
    finally:
        process.terminate()
        process.wait(timeout=30)
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
