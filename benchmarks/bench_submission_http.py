"""Prevalidation and submission of N records with N files over HTTP, as production serves.

    .venv/bin/python -m benchmarks.bench_submission_http [--sets 10000] [--rounds 3]
        [--port-base 18600] [--app-port 6547] [--stack-dir var/bench-submission]
        [--source DIR ...] [--keep-stack]

Staging and uploading 10,000 records and files through the API takes longer than the
submission itself, so they are written in SQL (benchmarks/seed.py: the rows and values
the API writes for a staged set of 20 columns, C01 site-unique, the last a file column,
and a confirmed file named by each set; submission reads no stored object, so none is
uploaded). N submitted sets are there first, for the site-unique check to read.

Each ``--source`` (default: this checkout; another one, such as a worktree of an older
commit, compares code) gets a database of its own on one stack, migrated by its own
alembic, and is served by its own ``pserve production.ini`` (granian, as `make run` and
production serve; with its code first on PYTHONPATH). Then, ``--rounds`` times, for each
source in turn: N staged sets are seeded for one user, POST /presubvalidation and POST
/submissions of all of them (by UUID, as DataMeta 1.x's client sends them) are timed,
with the CPU time of the app's processes and of PostgreSQL from /proc (of the backends
serving the app's database, then of all PostgreSQL processes, autovacuum included). CPU
times are what to compare on a loaded machine; sources alternate so that load hits them
alike.

After each submission, a search for a value of one of its sets (GET /metadatasets?q=...) is
timed, then ``datameta-worker --once`` (the source's own, which writes the search texts the
submission left to it, if it does; its whole run, start-up included, and its job's run from
procrastinate's events) and the same search again.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from benchmarks.bench_api import api_key
from benchmarks.common import environ_with, wait_until_up
from benchmarks.seed import add_group_and_user, add_metadatasets, define_columns

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"


def tree_cpu(root: int) -> float:
    """CPU seconds of process ``root`` and its live descendants (and the children they reaped)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, ... utime (14th field overall), stime, cutime, cstime.
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(value) for value in fields[11:15])
    total = 0
    for pid in ticks:
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += ticks[pid]
    return total / os.sysconf("SC_CLK_TCK")


def backends_cpu(postmaster: int, database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``database`` (the app's pool).

    Autovacuum, the checkpointer and the other database of the run are left out: they
    run when they will, and once took more CPU than the request measured.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # "postgres: <user> <database> <host> <state>", as backends name themselves.
            title = (stat.parent / "cmdline").read_bytes().decode(errors="replace").split()
        except OSError:
            continue
        if int(fields[1]) == postmaster and len(title) > 2 and title[2] == database:
            total += sum(int(value) for value in fields[11:13])
    return total / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Server:
    source: Path
    url: str
    database_url: str
    process: subprocess.Popen
    user_id: int = 0
    group_id: int = 0
    token: str = ""
    environ: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, float]] = field(default_factory=list)


@contextmanager
def stack(options: argparse.Namespace) -> Iterator[dict[str, str]]:
    """A fresh stack (PostgreSQL and the rest, as the test suite starts it); its environ."""
    directory = Path(options.stack_dir)
    script = str(ROOT / "scripts" / "stack.sh")
    subprocess.run([script, "down", str(directory)], check=False)
    shutil.rmtree(directory, ignore_errors=True)
    subprocess.run(
        [script, "up", str(directory), str(options.port_base)],
        check=True,
        env={**os.environ, "STACK_FAST": "1"},
    )
    try:
        yield environ_with(directory / "env.sh")
    finally:
        if not options.keep_stack:
            subprocess.run([script, "down", str(directory)], check=False)


def fresh_database(environ: dict[str, str], name: str, source: Path) -> str:
    """Database ``name``, empty and migrated by ``source``'s own migrations; its URL."""
    url = make_url(environ["DATAMETA_SQLALCHEMY_URL"])
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    rendered = url.set(database=name).render_as_string(hide_password=False)
    subprocess.run(
        [str(BIN / "alembic"), "-c", "alembic.ini", "upgrade", "head"],
        check=True,
        cwd=source,
        env={**environ, "DATAMETA_SQLALCHEMY_URL": rendered, "PYTHONPATH": str(source)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return rendered


def serve(environ: dict[str, str], source: Path, database_url: str, port: int) -> Server:
    """``source``'s app as production serves it, on ``port`` (stopped by ``stop``)."""
    url = f"http://127.0.0.1:{port}"
    env = {
        **environ,
        "DATAMETA_SQLALCHEMY_URL": database_url,
        "DATAMETA_SESSION_SECRET": secrets.token_urlsafe(32),
        "DATAMETA_PUBLIC_URL": url,
        "DATAMETA_SESSION_COOKIE_SECURE": "false",
        "DATAMETA_SECURITY_HSTS": "false",
        "PYTHONPATH": str(source),
        # As `make run` and the container image serve it (scripts/run.sh).
        "MALLOC_ARENA_MAX": environ.get("MALLOC_ARENA_MAX", "2"),
    }
    command = [str(BIN / "pserve"), str(source / "production.ini"), f"http_bind=127.0.0.1:{port}"]
    process = subprocess.Popen(
        command, cwd=source, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_until_up(url, process)
    return Server(source, url, database_url, process, environ=env)


def stop(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def seed_user(server: Server, count: int) -> None:
    """The columns, one user with an API key, and ``count`` submitted sets."""
    engine = sa.create_engine(server.database_url)
    with engine.begin() as connection:
        define_columns(connection, file_column=True)
        server.group_id, server.user_id = add_group_and_user(connection)
        add_metadatasets(
            connection, server.user_id, server.group_id, count, submitted=True, series="A"
        )
    server.token = api_key(engine, server.user_id)
    engine.dispose()


def seed_staged(server: Server, count: int, series: str) -> dict[str, object]:
    """``count`` staged sets with confirmed files; the body that submits them all."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.begin() as connection:
            add_metadatasets(
                connection, server.user_id, server.group_id, count, submitted=False, series=series
            )
            sets = connection.execute(
                sa.text(
                    "SELECT uuid::text FROM metadatasets WHERE submission_id IS NULL "
                    "AND user_id = :user ORDER BY id"
                ),
                {"user": server.user_id},
            ).scalars()
            files = connection.execute(
                sa.text(
                    "SELECT f.uuid::text FROM files AS f WHERE f.user_id = :user AND NOT EXISTS "
                    "(SELECT FROM metadatumrecords AS r WHERE r.file_id = f.id) ORDER BY f.id"
                ),
                {"user": server.user_id},
            ).scalars()
            body: dict[str, object] = {
                "metadatasetIds": list(sets),
                "fileIds": list(files),
                "label": f"bench {series}",
            }
        # As autovacuum would have by the time 10,000 records were staged through the API.
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("ANALYZE metadatasets, metadatumrecords, files")
            )
        return body
    finally:
        engine.dispose()


def timed_post(
    server: Server, postgres_pid: int, path: str, body: dict[str, object]
) -> tuple[requests.Response, dict[str, float]]:
    headers = {"Authorization": f"Bearer {server.token}"}
    database = make_url(server.database_url).database or ""
    app_cpu, db_cpu = tree_cpu(server.process.pid), tree_cpu(postgres_pid)
    backends = backends_cpu(postgres_pid, database)
    started = time.perf_counter()
    response = requests.post(f"{server.url}{path}", json=body, headers=headers, timeout=600)
    wall = time.perf_counter() - started
    return response, {
        "wall": wall,
        "app": tree_cpu(server.process.pid) - app_cpu,
        "backends": backends_cpu(postgres_pid, database) - backends,
        "db": tree_cpu(postgres_pid) - db_cpu,
    }


def timed_search(server: Server, word: str) -> float:
    """Seconds of a search (the first page) that must find exactly one set."""
    headers = {"Authorization": f"Bearer {server.token}"}
    started = time.perf_counter()
    response = requests.get(
        f"{server.url}/api/v1/metadatasets",
        params={"q": word, "limit": 25},
        headers=headers,
        timeout=600,
    )
    wall = time.perf_counter() - started
    if response.status_code != 200 or len(response.json()) != 1:
        raise SystemExit(
            f"search for {word} answered {response.status_code}: {response.text[:500]}"
        )
    return wall


def unwritten_texts(server: Server) -> int:
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text(
                    "SELECT count(*) FROM metadatasets "
                    "WHERE search_text IS NULL AND submission_id IS NOT NULL"
                )
            ).scalar_one()
    finally:
        engine.dispose()


def timed_worker(server: Server) -> float:
    """Seconds of the source's ``datameta-worker --once``: the jobs waiting, then exit."""
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "datameta-worker"), "-c", str(server.source / "production.ini"), "--once"],
        cwd=server.source,
        env=server.environ,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def last_job_seconds(server: Server) -> float:
    """How long the last job writing search texts ran, from its start to its success (its
    events in procrastinate's table); 0 where there is none (code older than that job)."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            seconds = connection.execute(
                sa.text(
                    "SELECT extract(epoch FROM max(e.at) FILTER (WHERE e.type = 'succeeded')"
                    " - max(e.at) FILTER (WHERE e.type = 'started'))"
                    " FROM procrastinate_events AS e WHERE e.job_id = ("
                    "  SELECT max(id) FROM procrastinate_jobs"
                    "  WHERE task_name = 'datameta.write_search_texts')"
                )
            ).scalar()
    finally:
        engine.dispose()
    return float(seconds or 0)


def after_submission(server: Server, word: str) -> dict[str, float]:
    """A search for ``word`` before and after the worker ran, and the worker's run."""
    before = timed_search(server, word)
    unwritten = unwritten_texts(server)
    worker = timed_worker(server)
    if unwritten_texts(server):
        raise SystemExit("the worker left search texts unwritten")
    return {
        "search_before": before,
        "unwritten": float(unwritten),
        "worker": worker,
        "job": last_job_seconds(server) if unwritten else 0.0,
        "search_after": timed_search(server, word),
    }


def one_round(server: Server, postgres_pid: int, count: int, series: str) -> dict[str, float]:
    body = seed_staged(server, count, series)
    figures: dict[str, float] = {"load": float(loadavg().split()[0])}
    response, pre = timed_post(server, postgres_pid, "/api/v1/presubvalidation", body)
    if response.status_code != 204:
        raise SystemExit(f"presubvalidation answered {response.status_code}: {response.text[:500]}")
    response, sub = timed_post(server, postgres_pid, "/api/v1/submissions", body)
    if response.status_code != 200 or len(response.json()["metadatasetIds"]) != count:
        raise SystemExit(f"submission answered {response.status_code}: {response.text[:500]}")
    for name, measured in (("pre", pre), ("sub", sub)):
        for what, value in measured.items():
            figures[f"{name}_{what}"] = value
    # A value of the last set submitted, in no other set (seed.add_metadatasets).
    last = response.json()["metadatasetIds"][-1]["site"]
    figures.update(after_submission(server, search_word(server, last)))
    return figures


def search_word(server: Server, set_site_id: str) -> str:
    """The name of the file of the set ``set_site_id``: file-<set's id>.fq."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            set_id = connection.execute(
                sa.text("SELECT id FROM metadatasets WHERE site_id = :site"), {"site": set_site_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return f"file-{set_id}.fq"


def print_row(label: str, figures: dict[str, float]) -> None:
    cells = [label, f"{figures['load']:.1f}"]
    for request in ("pre", "sub"):
        cells += [
            f"{figures[f'{request}_wall']:.2f} s",
            f"{figures[f'{request}_app']:.2f} s",
            f"{figures[f'{request}_backends']:.2f} / {figures[f'{request}_db']:.2f} s",
        ]
    cells += [
        f"{figures['search_before']:.2f} s",
        f"{figures['worker']:.2f} s / {figures['job']:.2f} s ({figures['unwritten']:.0f})",
        f"{figures['search_after']:.2f} s",
    ]
    print(f"| {' | '.join(cells)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port-base", type=int, default=18600, help="ports of the stack")
    parser.add_argument("--app-port", type=int, default=6547, help="of the first source")
    parser.add_argument("--stack-dir", default=str(ROOT / "var" / "bench-submission"))
    parser.add_argument(
        "--source", nargs="+", default=[str(ROOT)], help="checkouts whose code to serve"
    )
    parser.add_argument("--keep-stack", action="store_true", help="leave the stack running")
    options = parser.parse_args()
    sources = [Path(source).resolve() for source in options.source]
    print(f"load average at start: {loadavg()}")
    # PostgreSQL CPU: its backends serving the app / all its processes (autovacuum too).
    print(
        "| source, round | load | prevalidation wall | app CPU | PostgreSQL CPU "
        "| submission wall | app CPU | PostgreSQL CPU "
        "| search before the worker | worker --once / its job (texts written) | search after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with stack(options) as environ, ExitStack() as servers_stack:
        postgres_pid = int(
            (Path(options.stack_dir) / "pg" / "data" / "postmaster.pid").read_text().split()[0]
        )
        servers = []
        for index, source in enumerate(sources):
            database = fresh_database(environ, f"bench_submission_{index}", source)
            server = serve(environ, source, database, options.app_port + index)
            servers_stack.callback(stop, server)
            seed_user(server, options.sets)
            servers.append(server)
        for round_ in range(options.rounds):
            for server in servers:
                # Series "A" holds the submitted sets; each round stages its own series.
                figures = one_round(server, postgres_pid, options.sets, chr(ord("C") + round_))
                server.rows.append(figures)
                print_row(f"{server.source.name}, {round_ + 1}", figures)
    for server in (server for server in servers if server.rows):
        keys = server.rows[0]
        medians = {key: statistics.median(row[key] for row in server.rows) for key in keys}
        print_row(f"{server.source.name}, median", medians)
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
