"""Side by side with DataMeta 1.1.1: the same harness against both servers, one after the other.

    .venv/bin/python -m benchmarks.compare [--runs 3] [--stage-n 300] [--files-n 300]
        [--submit-n 1000] [--bigfile-mib 256] [--port-base 18500] [--app-port 6545]
        [--load 60 [--load-users 50] [--load-max-tasks 100000]]
        [--sets 1000 10000 [--peer-max-sets 1000] [--peer-sets-timeout 1800]]
        [--list-sets 10000]

With ``--load SECONDS``, after its runs each server also takes a load test: locust, headless,
``--load-users`` clients on loopback doing the mix of benchmarks/locustfile.py for that long
(and at most ``--load-max-tasks`` tasks); its throughput and latency percentiles per
operation go into the same section of RESULTS.md. ``--runs 0 --load 60`` runs the load test
alone.

With ``--sets N ...``, after its runs (and the load test) each server also prevalidates and
submits N records with N files and lists every submitted set, for each N in turn (growing:
each listing holds the sets of the sizes before), its app's peak memory reset before and
read after. DataMeta
1.1.1 is slow at this (its prevalidation looks every record up on its own): sizes above
``--peer-max-sets`` are not run against it, and each of its runs is stopped after
``--peer-sets-timeout`` seconds; the table says so where a figure is missing.

With ``--list-sets N ...``, last, each server's submitted sets are copied in SQL until N
exist (benchmarks/cloned_sets.py: both keep sets and values in the same two tables), and
it lists them all: the full listing at sizes that DataMeta 1.1.1 would take too long to
reach through its API.

DataMeta 1.1.1 comes from ``PEER_DIR`` (default ../shared/peer: its setup, start and stop
scripts and ``bench.py``, the harness). Each server starts on a fresh, empty database and
answers the same workloads ``--runs`` times, the two taking their runs in turn (so that a
ratio compares runs of the same minutes); the medians of the runs and their ratios are
written to benchmarks/RESULTS.md, every figure as JSON to test-output/bench-compare/.

Both sides run their PostgreSQL without fsync (the peer's scripts start it so), and the
server CPU counted is that of every server process: app, PostgreSQL, memcached and, for this
project, the S3 server that receives the uploads DataMeta 1.1.1 takes in the app.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cloned_sets import clone_submitted
from benchmarks.common import environ_with, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
OUT = ROOT / "test-output" / "bench-compare"
BEGIN, END = "<!-- bench-compare -->", "<!-- end bench-compare -->"
PEER_URL = "http://127.0.0.1:6544"


def peer_dir() -> Path:
    return Path(os.environ.get("PEER_DIR_SCRIPTS", ROOT.parent / "shared" / "peer")).resolve()


def peer_state() -> Path:
    """Where the peer's scripts keep its state (their default, or PEER_DIR)."""
    default = Path(os.environ.get("TMPDIR", "/tmp")) / "datameta-peer"
    return Path(os.environ.get("PEER_DIR") or default)


def log(message: str) -> None:
    print(f"[bench-compare {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run_bench(
    url: str,
    token: str,
    pids: list[str],
    label: str,
    args: list[str],
    out: Path,
    timeout: float | None = None,
) -> dict:
    """One bench.py invocation; its JSON figures."""
    command = [str(BIN / "python"), str(peer_dir() / "bench.py"), "--url", url, f"--token={token}"]
    command += ["--server-pid", *pids, "--label", label, "--json", str(out), "--quiet", *args]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, timeout=timeout)
    figures = json.loads(out.read_text())
    for result in figures["results"]:
        if not result["ok"]:
            raise SystemExit(f"{label}: {result['workload']} failed: {result.get('error')}")
    return figures


def workloads(options: argparse.Namespace, run: int) -> list[tuple[str, list[str]]]:
    """The bench.py arguments of one run: staging, small files, submission then listing."""
    items = [
        ("stage", ["--workload", "stage", "--n", str(options.stage_n)]),
        ("files", ["--workload", "files", "--n", str(options.files_n)]),
        ("submit", ["--workload", "submit", "--n", str(options.submit_n), "--list-after-submit"]),
    ]
    if run == 0 and options.bigfile_mib:
        size = str(options.bigfile_mib)
        items.append(("bigfile", ["--workload", "bigfile", "--size", size, "--reset-hwm"]))
    return items


def run_load(name: str, url: str, token: str, options: argparse.Namespace) -> None:
    """The locust load test against one server; its figures into OUT/<name>-load.json."""
    prefix = OUT / f"{name}-load"
    command = [
        *(str(BIN / "locust"), "-f", str(ROOT / "benchmarks" / "locustfile.py")),
        *("--headless", "--only-summary", "--host", url, "--csv", str(prefix)),
        *("-u", str(options.load_users), "-r", str(max(1, options.load_users // 5))),
        *("--run-time", f"{options.load}s", "--stop-timeout", "30"),
    ]
    environ = {
        **os.environ,
        "DATAMETA_LOAD_TOKEN": token,
        "DATAMETA_PEER_BENCH": str(peer_dir() / "bench.py"),
        "DATAMETA_LOAD_MAX_TASKS": str(options.load_max_tasks),
    }
    log(f"{name}: load test, {options.load_users} clients for {options.load} s")
    # Bounded: locust stops at --run-time; a hung run is killed after twice that.
    # locust's own summary (the CSV is written as the run stops: requests still finishing
    # in the stop timeout are only in the summary).
    with (OUT / f"{name}-load.log").open("w") as summary:
        subprocess.run(
            command,
            env=environ,
            check=False,
            timeout=2 * options.load + 120,
            stdout=summary,
            stderr=subprocess.STDOUT,
        )
    rows = list(csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()))
    (OUT / f"{name}-load.json").write_text(json.dumps({"seconds": options.load, "rows": rows}))


@dataclass(frozen=True)
class Server:
    """A server under measurement, up for as long as the comparison runs."""

    name: str
    url: str
    token: str
    pids: list[str]
    database_url: str


def measure_run(server: Server, options: argparse.Namespace, run: int) -> list[dict]:
    """One run's bench.py results for one server: staging, small files, submission."""
    results = []
    for workload, args in workloads(options, run):
        out = OUT / f"{server.name}-run{run + 1}-{workload}.json"
        log(f"{server.name}: run {run + 1}/{options.runs}, {workload}")
        results += run_bench(server.url, server.token, server.pids, server.name, args, out)[
            "results"
        ]
    return results


def measure_after_runs(server: Server, options: argparse.Namespace) -> None:
    """With ``--load``, ``--sets`` and ``--list-sets``: the load test, the big sizes and
    the listings of copied sets, on the server its runs left behind."""
    name, url, token, pids = server.name, server.url, server.token, server.pids
    # The load test before the big sizes: a run of 1.1.1 stopped by its timeout may leave
    # it busy with the request for a while.
    if options.load:
        run_load(name, url, token, options)
    for size in options.sets:
        out = OUT / f"{name}-sets{size}.json"
        out.unlink(missing_ok=True)
        if name == "peer" and size > options.peer_max_sets:
            log(f"{name}: {size} sets: not run (over --peer-max-sets {options.peer_max_sets})")
            continue
        log(f"{name}: {size} sets: prevalidation, submission, full listing")
        args = ["--workload", "submit", "--n", str(size), "--list-after-submit", "--reset-hwm"]
        try:
            run_bench(url, token, pids, name, args, out, timeout=sets_timeout(name, options))
        except subprocess.TimeoutExpired:
            log(f"{name}: {size} sets: stopped after {options.peer_sets_timeout} s")
            out.unlink(missing_ok=True)
    for size in options.list_sets:
        log(f"{name}: copying submitted sets in SQL up to {size}, then the full listing")
        clone_submitted(server.database_url, size)
        args = ["--workload", "list", "--reset-hwm"]
        run_bench(url, token, pids, name, args, OUT / f"{name}-list{size}.json")


def sets_timeout(name: str, options: argparse.Namespace) -> float | None:
    return options.peer_sets_timeout if name == "peer" else None


# The peer -----------------------------------------------------------------------------------


@contextmanager
def peer_server(options: argparse.Namespace) -> Iterator[Server]:
    scripts, state = peer_dir(), peer_state()
    subprocess.run(["bash", str(scripts / "setup-upstream.sh")], check=True)
    subprocess.run(["bash", str(scripts / "start-upstream.sh"), "--reset"], check=True)
    try:
        token = (state / "admin.token").read_text().strip()
        pids = []
        for line in (state / "pids").read_text().splitlines():
            name, pid = line.split()
            pids.append(f"{'app' if name == 'datameta' else name}={pid}")
        database = (
            f"postgresql://postgres@127.0.0.1:{os.environ.get('PEER_PG_PORT', '55433')}/datameta"
        )
        yield Server("peer", PEER_URL, token, pids, database)
    finally:
        subprocess.run(["bash", str(scripts / "stop-upstream.sh")], check=False)


# This project --------------------------------------------------------------------------------


@contextmanager
def own_server(options: argparse.Namespace) -> Iterator[tuple[str, str, list[str]]]:
    """A fresh stack and the app served as production serves it; yields url, token, pids."""
    stack = Path(options.stack_dir)
    subprocess.run([str(ROOT / "scripts" / "stack.sh"), "down", str(stack)], check=False)
    shutil.rmtree(stack, ignore_errors=True)
    environ = {**os.environ, "STACK_FAST": "1"}
    subprocess.run(
        [str(ROOT / "scripts" / "stack.sh"), "up", str(stack), str(options.port_base)],
        check=True,
        env=environ,
    )
    app = None
    try:
        environ = environ_with(stack / "env.sh")
        url = f"http://127.0.0.1:{options.app_port}"
        environ.update(
            DATAMETA_SESSION_SECRET=secrets.token_urlsafe(32),
            DATAMETA_PUBLIC_URL=url,
            DATAMETA_SESSION_COOKIE_SECURE="false",
            DATAMETA_SECURITY_HSTS="false",
        )
        subprocess.run(
            [str(BIN / "alembic"), "-c", "alembic.ini", "upgrade", "head"],
            check=True,
            cwd=ROOT,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        token = secrets.token_urlsafe(32)
        subprocess.run(
            [
                str(BIN / "initialize_datameta_db"),
                *("-c", "production.ini", "--initial-user-fullname", "Bench Admin"),
                *("--initial-user-email", "admin@example.org", "--initial-group", "Bench Group"),
                # "=": a random secret may start with "-", which argparse takes for an option.
                f"--initial-user-pass={secrets.token_urlsafe(16)}-A1",
                f"--initial-api-key={token}",
            ],
            check=True,
            cwd=ROOT,
            env=environ,
        )
        command = options.serve.format(bin=BIN, port=options.app_port).split()
        # As `make run` and the container image serve it (see scripts/run.sh).
        environ.setdefault("MALLOC_ARENA_MAX", "2")
        log(f"serving: {' '.join(command)}")
        app = subprocess.Popen(
            command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until_up(url, app)
        pids = [f"app={app.pid}"]
        pids.append(f"postgres={(stack / 'pg' / 'data' / 'postmaster.pid').read_text().split()[0]}")
        for name, label in (("memcached", "memcached"), ("weed", "s3")):
            pids.append(f"{label}={(stack / f'{name}.pid').read_text().strip()}")
        yield url, token, pids
    finally:
        if app is not None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(30)
            except subprocess.TimeoutExpired:
                app.kill()
        subprocess.run([str(ROOT / "scripts" / "stack.sh"), "down", str(stack)], check=False)


@contextmanager
def datameta_server(options: argparse.Namespace) -> Iterator[Server]:
    with own_server(options) as (url, token, pids):
        database = environ_with(Path(options.stack_dir) / "env.sh")["DATAMETA_SQLALCHEMY_URL"]
        yield Server("datameta", url, token, pids, database)


# The table ------------------------------------------------------------------------------------


def phase(results: list[dict], workload: str, name: str, nth: int = 0) -> dict:
    found = [r for r in results if r["workload"] == workload]
    return found[nth]["phases"][name] if nth < len(found) else {}


def cpu_of(ph: dict, label: str) -> float | None:
    values = [v for k, v in ph.get("server_cpu_by_pid", {}).items() if k.startswith(label + ":")]
    return sum(v for v in values if v is not None) if values else None


Metric = tuple[str, str, Callable[[list[dict]], float | None], bool]


def metrics(options: argparse.Namespace) -> list[Metric]:
    """(label, unit, how to read it from one run's results, higher is better)."""
    stage, files, submit = options.stage_n, options.files_n, options.submit_n

    def per_op(ph: dict, label: str | None, n: int) -> float | None:
        cpu = ph.get("server_cpu_s") if label is None else cpu_of(ph, label)
        return None if cpu is None else 1000 * cpu / n

    def seq(r: list[dict]) -> dict:
        return phase(r, "stage", "sequential")

    def conc(r: list[dict]) -> dict:
        return phase(r, "stage", f"concurrent{options.threads}")

    def small(r: list[dict]) -> dict:
        return phase(r, "files", "sequential")

    everything = "server CPU (all processes)"
    return [
        (f"stage one record, sequential ({stage})", "req/s", lambda r: seq(r)["rate_per_s"], True),
        ("  p50 latency", "ms", lambda r: seq(r)["latency"]["p50_ms"], False),
        (f"  {everything} per request", "ms", lambda r: per_op(seq(r), None, stage), False),
        ("  app CPU per request", "ms", lambda r: per_op(seq(r), "app", stage), False),
        ("  PostgreSQL CPU per request", "ms", lambda r: per_op(seq(r), "postgres", stage), False),
        (
            f"stage, {options.threads} concurrent clients",
            "req/s",
            lambda r: conc(r)["rate_per_s"],
            True,
        ),
        (
            f"small files 4 KiB: announce + upload + confirm ({files})",
            "files/s",
            lambda r: small(r)["rate_per_s"],
            True,
        ),
        ("  p50 per file", "ms", lambda r: small(r)["latency_total"]["p50_ms"], False),
        (f"  {everything} per file", "ms", lambda r: per_op(small(r), None, files), False),
        ("  app CPU per file", "ms", lambda r: per_op(small(r), "app", files), False),
        (
            f"prevalidation of {submit} records + files",
            "s",
            lambda r: phase(r, "submit", "presubvalidation")["wall_s"],
            False,
        ),
        (
            f"submission of {submit} records + files",
            "s",
            lambda r: phase(r, "submit", "submission")["wall_s"],
            False,
        ),
    ]


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def table(options: argparse.Namespace, peer: list, own: list) -> list[str]:
    lines = [
        "| workload | unit | DataMeta 1.1.1 | this project | speed-up | runs (1.1.1 / this) |",
        "|---|---|---|---|---|---|",
    ]

    def row(label: str, unit: str, p: list, o: list, higher: bool) -> None:
        mp, mo = median(p), median(o)
        ratio = "-"
        if mp and mo:
            ratio = f"{(mo / mp) if higher else (mp / mo):.2f}x"
        spread = f"{', '.join(fmt(v) for v in p)} / {', '.join(fmt(v) for v in o)}"
        lines.append(f"| {label} | {unit} | {fmt(mp)} | {fmt(mo)} | {ratio} | {spread} |")

    for label, unit, read, higher in metrics(options):
        row(label, unit, [read(r) for r in peer], [read(r) for r in own], higher)
    for k in range(min(len(peer), len(own))):
        count = phase(own[k], "list", "get1").get("count")
        p = [phase(peer[k], "list", "get1").get("wall_s")]
        o = [phase(own[k], "list", "get1").get("wall_s")]
        row(f"list all {count} submitted sets (GET /metadatasets)", "s", p, o, False)
    if options.bigfile_mib:
        for name in ("upload", "download"):
            p = [phase(peer[0], "bigfile", name).get("mib_per_s")]
            o = [phase(own[0], "bigfile", name).get("mib_per_s")]
            row(f"{options.bigfile_mib} MiB file, {name}", "MiB/s", p, o, True)
    return lines


def sets_figures(name: str, size: int, kind: str = "sets") -> dict[str, float | None]:
    """Prevalidation, submission and listing of ``size`` sets on one server, if measured.

    ``kind`` "list": the listing of ``size`` sets copied in SQL (``--list-sets``).
    """
    path = OUT / f"{name}-{kind}{size}.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())["results"]
    listing = phase(results, "list", "get1")
    memory = next((r.get("server_mem_after") for r in results if r["workload"] == "list"), {})
    # Keyed "label:pid".
    app = next((v for k, v in (memory or {}).items() if k.startswith("app:") and v), {})
    return {
        "prevalidation": phase(results, "submit", "presubvalidation").get("wall_s"),
        "submission": phase(results, "submit", "submission").get("wall_s"),
        "listed": listing.get("count"),
        "listing": listing.get("wall_s"),
        "peak": app["tree_max_vmhwm_kib"] / 1024 if app.get("tree_max_vmhwm_kib") else None,
    }


def sets_table(options: argparse.Namespace) -> list[str]:
    lines = [
        "",
        "Growing: each server prevalidates and submits N records with N files, then lists "
        "every set submitted so far (GET /metadatasets, no limit), for each N in turn. App "
        "peak memory: the largest peak resident set (VmHWM) among the app's processes, "
        "reset before the N's workload and read after the listing. A dash: not measured "
        f"(DataMeta 1.1.1 is run up to {options.peer_max_sets} sets, each run stopped after "
        f"{options.peer_sets_timeout} s).",
        "",
        "| workload | unit | DataMeta 1.1.1 | this project | speed-up |",
        "|---|---|---|---|---|",
    ]
    for size in options.sets:
        peer, own = sets_figures("peer", size), sets_figures("datameta", size)
        listed = own.get("listed") or peer.get("listed") or "?"
        for key, label in (
            ("prevalidation", f"prevalidation of {size} records + files"),
            ("submission", f"submission of {size} records + files"),
            ("listing", f"list all {listed} submitted sets (after {size})"),
            ("peak", "  app peak memory during the above"),
        ):
            p, o = peer.get(key), own.get(key)
            unit = "MiB" if key == "peak" else "s"
            ratio = f"{p / o:.2f}x" if p and o and key != "peak" else "-"
            lines.append(f"| {label} | {unit} | {fmt(p)} | {fmt(o)} | {ratio} |")
    return lines


def copied_listing_table(options: argparse.Namespace) -> list[str]:
    lines = [
        "",
        "Copied: each server's submitted sets (with their values, without file links) copied "
        "in SQL until N exist, then all of them listed (GET /metadatasets, no limit), the "
        "app's peak memory reset before and read after.",
        "",
        "| workload | unit | DataMeta 1.1.1 | this project | speed-up |",
        "|---|---|---|---|---|",
    ]
    for size in options.list_sets:
        peer, own = sets_figures("peer", size, "list"), sets_figures("datameta", size, "list")
        p, o = peer.get("listing"), own.get("listing")
        ratio = f"{p / o:.2f}x" if p and o else "-"
        listed = f"{peer.get('listed') or '?'} / {own.get('listed') or '?'}"
        lines.append(f"| list all submitted sets ({listed}) | s | {fmt(p)} | {fmt(o)} | {ratio} |")
        p, o = peer.get("peak"), own.get("peak")
        lines.append(f"|   app peak memory during the above | MiB | {fmt(p)} | {fmt(o)} | - |")
    return lines


LOAD_COLUMNS = ("Request Count", "Failure Count", "Requests/s", "50%", "95%", "99%")


def load_table() -> list[str]:
    """Per operation, both servers side by side: requests, failures, rate, p50/p95/p99 (ms)."""
    figures = {}
    for name in ("peer", "datameta"):
        path = OUT / f"{name}-load.json"
        figures[name] = (
            {row["Name"]: row for row in json.loads(path.read_text())["rows"]}
            if path.exists()
            else {}
        )
    names = [n for n in figures["datameta"] if n != "Aggregated"]
    names += [n for n in figures["peer"] if n not in names and n != "Aggregated"]
    lines = [
        "| operation | requests (1.1.1 / this) | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in [*sorted(names), "Aggregated"]:
        cells = []
        for column in LOAD_COLUMNS:
            pair = [figures[side].get(name, {}).get(column, "-") for side in ("peer", "datameta")]
            cells.append(
                " / ".join(fmt(float(v)) if v not in ("-", "N/A", "") else "-" for v in pair)
            )
        label = "all operations" if name == "Aggregated" else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // (1 << 20)
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, {platform.platform()}"


def write_results(options: argparse.Namespace, peer: list, own: list, load: list[str]) -> str:
    section = [
        BEGIN,
        f"## Side by side with DataMeta 1.1.1 ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {machine()}. Load average before / after: {load[0]} / {load[1]}.",
        f"Command: `make bench-compare` (`.venv/bin/python -m benchmarks.compare"
        f"{''.join(' ' + a for a in sys.argv[1:])}`).",
        f"Each server on a fresh database, {options.runs} runs taken in turn (1.1.1's first, "
        "this project's first, 1.1.1's second, ...), the same "
        "harness (`../shared/peer/bench.py`); the figures are medians of the runs (each run's "
        "figures follow), the speed-up is this project against DataMeta 1.1.1. Listing rows "
        "come one per run, as each run lists every set submitted so far. This project: "
        f"`{options.serve.format(bin='.venv/bin', port=options.app_port)}`. "
        "Server CPU counts every server process (app, PostgreSQL, memcached, and here the S3 "
        "server, which receives the uploads that DataMeta 1.1.1 takes in the app).",
        "",
        *(table(options, peer, own) if options.runs else []),
        *(sets_table(options) if options.sets else []),
        *(copied_listing_table(options) if options.list_sets else []),
        *(load_section(options) if options.load else []),
        END,
    ]
    text = RESULTS.read_text()
    block = "\n".join(section)
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        title, _, rest = text.partition("\n\n")
        text = f"{title}\n\n{block}\n\n{rest}"
    RESULTS.write_text(text)
    return block


def load_section(options: argparse.Namespace) -> list[str]:
    return [
        "",
        f"Load test: locust (`benchmarks/locustfile.py`), headless, {options.load_users} "
        f"clients on loopback for {options.load} s (at most {options.load_max_tasks} tasks), "
        "against each server right after its runs above (before the sizes), on the same "
        "database. The mix per "
        "client: stage a record (weight 6), announce + upload + confirm a 4 KiB file (3), "
        "upload a file, stage its record, prevalidate and submit both (1), list every "
        "submitted set (1), read the definitions, one of its sets and one of its files (3); "
        "think time 50-200 ms. Each cell: DataMeta 1.1.1 / this project; latencies in ms.",
        "",
        *load_table(),
    ]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stage-n", type=int, default=300)
    # As many as stagings: a run of 100 small files took about a second, in which a single
    # pause of either server (a volume allocated, a vacuum) moved the rate by a fifth.
    parser.add_argument("--files-n", type=int, default=300)
    parser.add_argument("--submit-n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bigfile-mib", type=int, default=256, help="0: no big file")
    parser.add_argument("--port-base", type=int, default=18500, help="ports of the stack")
    parser.add_argument("--app-port", type=int, default=6545)
    parser.add_argument("--stack-dir", default=str(ROOT / "var" / "bench-stack"))
    parser.add_argument(
        "--serve",
        default="{bin}/pserve production.ini http_bind=127.0.0.1:{port}",
        help="how this project is served ({bin}: the venv's bin, {port}: --app-port)",
    )
    parser.add_argument("--only", choices=["peer", "datameta"], help="measure one side only")
    parser.add_argument("--sets", type=int, nargs="*", default=[], help="e.g. 1000 10000")
    parser.add_argument("--peer-max-sets", type=int, default=1000)
    parser.add_argument("--peer-sets-timeout", type=float, default=1800)
    parser.add_argument(
        "--list-sets", type=int, nargs="*", default=[], help="copy sets in SQL to N, list all"
    )
    parser.add_argument("--load", type=int, default=0, help="seconds of load test (0: none)")
    parser.add_argument("--load-users", type=int, default=50)
    parser.add_argument("--load-max-tasks", type=int, default=100_000)
    options = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    load = [loadavg()]
    runs = compare(options)
    load.append(loadavg())
    print(write_results(options, runs["peer"], runs["datameta"], load))
    return 0


SIDES: dict[str, Callable[[argparse.Namespace], AbstractContextManager[Server]]] = {
    "peer": peer_server,
    "datameta": datameta_server,
}


def compare(options: argparse.Namespace) -> dict[str, list[list[dict[str, Any]]]]:
    """Every run's figures of both servers (with ``--only``, the other's last figures).

    Both servers are up together and take their runs in turn, DataMeta 1.1.1's first run,
    then this project's, and so on: the speed of a shared machine drifts by a fifth and
    more within minutes, and runs taken in the same minutes keep that out of the ratios.
    """
    measured = [name for name in SIDES if options.only in (None, name)]
    runs: dict[str, list[list[dict[str, Any]]]] = {
        name: [] if name in measured else last_runs(options, name) for name in SIDES
    }
    with ExitStack() as stack:
        servers = [stack.enter_context(SIDES[name](options)) for name in measured]
        for run in range(options.runs):
            for server in servers:
                runs[server.name].append(measure_run(server, options, run))
        for server in servers:
            measure_after_runs(server, options)
    return runs


def last_runs(options: argparse.Namespace, name: str) -> list[list[dict[str, Any]]]:
    """The figures of ``name``'s runs as the last comparison wrote them."""
    runs: list[list[dict[str, Any]]] = []
    for k in range(options.runs):
        results = []
        for workload, _ in workloads(options, k):
            out = OUT / f"{name}-run{k + 1}-{workload}.json"
            results += json.loads(out.read_text())["results"]
        runs.append(results)
    return runs


if __name__ == "__main__":
    sys.exit(main())
