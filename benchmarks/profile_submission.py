"""Prevalidation and submission of N sets with N files, in-process, with an optional profile.

    .venv/bin/python -m benchmarks.profile_submission [--sets 1000 10000] [--profile]

Against the stack of `make run` (or a sourced env.sh), for each N on a scratch database
with 20 columns (C01 site-unique, the last a file column): N sets already submitted (their
values are what the site-unique check reads), then N staged sets of one user with a value
in every column and N uploaded files, one named by each set. Reports, per request, the
wall time, this process's CPU time (``time.process_time``: the app), the CPU time of
the stack's PostgreSQL (from /proc; load on the machine stretches wall times, not these)
and the SQL statements; ``--profile`` adds cProfile's top functions of the submission.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from benchmarks.bench_api import api_key
from benchmarks.common import bench_app, scratch_database, timed
from benchmarks.seed import add_group_and_user, add_metadatasets, define_columns


def prepare(count: int):
    url, environ = scratch_database(f"datameta_bench_submission_{count}")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        define_columns(connection, file_column=True)
        group_id, user_id = add_group_and_user(connection)
        add_metadatasets(connection, user_id, group_id, count, submitted=True)
        add_metadatasets(connection, user_id, group_id, count, submitted=False, series="C")
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text("VACUUM ANALYZE")
        )
        set_ids = connection.execute(
            sa.text("SELECT site_id FROM metadatasets WHERE submission_id IS NULL ORDER BY id")
        ).scalars()
        body = {
            "metadatasetIds": list(set_ids),
            "fileIds": list(connection.execute(sa.text("SELECT site_id FROM files")).scalars()),
            "label": "bench",
        }
    token = api_key(engine, user_id)
    engine.dispose()
    client, app = bench_app(environ)
    return client, app.registry["dbengine"], {"Authorization": f"Bearer {token}"}, body


@contextmanager
def slow_statements(engine: sa.Engine, seconds: float) -> Iterator[None]:
    """Print every statement that takes longer than ``seconds``, with its time."""

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        if took > seconds:
            print(f"  {took:.3f} s: {' '.join(statement.split())[:300]}")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def postgres_cpu() -> float:
    """CPU seconds used so far by the stack's PostgreSQL (postmaster and its children).

    0 where the stack is not found (``DATAMETA_STACK_DIR``, which its env.sh sets).
    """
    pid_file = Path(os.environ.get("DATAMETA_STACK_DIR", "/nonexistent")) / "pg/data/postmaster.pid"
    if not pid_file.exists():
        return 0.0
    postmaster = pid_file.read_text().split()[0]
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, ... utime (14th field overall), stime, cutime, cstime.
        if stat.parent.name == postmaster or fields[1] == postmaster:
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(engine: sa.Engine, action) -> tuple[float, float, float, int, object]:
    """Wall time, this process's CPU, PostgreSQL's CPU, statements, and the answer."""
    cpu, db_cpu = time.process_time(), postgres_cpu()
    wall, statements, response = timed(engine, action)
    return wall, time.process_time() - cpu, postgres_cpu() - db_cpu, statements, response


def run(count: int, options: argparse.Namespace) -> None:
    """Prevalidate, then submit, ``count`` sets with ``count`` files; print the rows."""
    client, engine, headers, body = prepare(count)
    count_label = f"{count} + {count}"
    with ExitStack() as stack:
        if options.slow:
            stack.enter_context(slow_statements(engine, options.slow))
        wall, cpu, db_cpu, statements, response = measure(
            engine, lambda: client.post_json("/api/v1/presubvalidation", body, headers=headers)
        )
        assert response.status_int == 204, response.text[:2000]
        print(
            f"| POST /presubvalidation | "
            f"{count_label} | {wall:.3f} s | {cpu:.3f} s | {db_cpu:.2f} s | {statements} |"
        )
        profiler = cProfile.Profile() if options.profile else None
        if profiler:
            profiler.enable()
        wall, cpu, db_cpu, statements, response = measure(
            engine, lambda: client.post_json("/api/v1/submissions", body, headers=headers)
        )
        if profiler:
            profiler.disable()
    assert response.status_int == 200, response.text[:2000]
    assert len(response.json["metadatasetIds"]) == count
    print(
        f"| POST /submissions | {count_label} | {wall:.3f} s | {cpu:.3f} s | {db_cpu:.2f} s "
        f"| {statements} |"
    )
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--slow", type=float, default=0, help="print statements slower than this (seconds)"
    )
    options = parser.parse_args()
    print("| request | sets + files | wall | app CPU | PostgreSQL CPU | SQL statements |")
    print("|---|---|---|---|---|---|")
    for count in options.sets:
        run(count, options)


if __name__ == "__main__":
    main()
