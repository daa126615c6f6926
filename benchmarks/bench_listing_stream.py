"""Memory and time of GET /metadatasets without paging: every submitted set, streamed.

    .venv/bin/python -m benchmarks.bench_listing_stream [SIZE ...]     (or: make bench)

The app runs in a process of its own, served by waitress as in production (response
validation off), over a database seeded with 1,000 / 10,000 / 100,000 submitted sets
of 20 values. A client reads the whole answer. Reported: wall time, the size of the
answer, how much the app process's peak memory (VmHWM, resident set) grew while it
sent the answer, measured against its peak after a warm-up request, and how much its
resident memory still grew once the first tenth of the answer was sent.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from benchmarks.bench_api import api_key
from benchmarks.common import BENCH_INI, ROOT, scratch_database
from benchmarks.seed import seed_submitted

SIZES = (1_000, 10_000, 100_000)  # unless others are given
MARKER = b'"serviceExecutions"'  # once per set in the answer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def seed(count: int) -> tuple[str, dict[str, str], str]:
    url, environ = scratch_database(f"datameta_bench_stream_{count}")
    engine = sa.create_engine(url)
    user_id = seed_submitted(engine, count)
    token = api_key(engine, user_id)
    engine.dispose()
    return url, environ, token


def serve(port: int) -> None:
    """The app under waitress in this process (the environment names the database)."""
    from waitress import serve as waitress_serve

    from datameta import main

    # Built as pserve builds it (``main``), so that it is set up as in production.
    waitress_serve(main({}, **BENCH_INI), host="127.0.0.1", port=port, threads=4, _quiet=True)


def start_app(environ: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (this module, fixed arguments)
        [sys.executable, "-m", "benchmarks.bench_listing_stream", "--serve", str(port)],
        cwd=ROOT,
        env=environ,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{url}/api/v1/server", timeout=5)
            return process, url
        except requests.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("the app did not start") from None
            time.sleep(0.2)


def read_all(url: str, headers: dict[str, str], pid: int) -> dict[str, float]:
    """Read the whole unpaged answer as it arrives, sampling the app's memory after each MiB."""
    started = time.perf_counter()
    size = sets = 0
    tail = b""
    samples = []  # (sets read so far, the app's resident memory in KiB)
    with requests.get(f"{url}/api/v1/metadatasets", headers=headers, stream=True, timeout=600) as r:
        assert r.status_code == 200, r.text
        assert "X-Total-Count" not in r.headers
        for chunk in r.iter_content(chunk_size=1 << 20):
            size += len(chunk)
            window = tail + chunk
            sets += window.count(MARKER)
            tail = window[-(len(MARKER) - 1) :]  # too short to hold a whole marker
            samples.append((sets, memory_kib(pid)["VmRSS"]))
        assert chunk.endswith(b"]")
    seconds = time.perf_counter() - started
    # Flat memory: once the first tenth is sent, the rest adds (almost) nothing.
    after_tenth = next(rss for read, rss in samples if read >= sets / 10)
    return {
        "seconds": seconds,
        "size": size,
        "sets": sets,
        "late_growth": (max(rss for _, rss in samples) - after_tenth) / 1024,
    }


def bench(count: int) -> str:
    _, environ, token = seed(count)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    process, url = start_app(environ)
    try:
        # Warm-up: imports, the OpenAPI document, pools, one full page of sets.
        warm = requests.get(f"{url}/api/v1/metadatasets?limit=1000", headers=headers, timeout=60)
        assert warm.status_code == 200, warm.text
        before = memory_kib(process.pid)
        read = read_all(url, headers, process.pid)
        after = memory_kib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert read["sets"] == count, f"{read['sets']} sets in the answer, {count} seeded"
    growth = (after["VmHWM"] - before["VmHWM"]) / 1024
    return (
        f"| GET /metadatasets, no limit | {count:,} submitted sets of 20 values "
        f"| {read['seconds']:.1f} s | {read['size'] / 2**20:.0f} MiB "
        f"| {before['VmHWM'] / 1024:.0f} MiB | {growth:+.1f} MiB | {read['late_growth']:+.1f} MiB |"
    )


def main() -> None:
    print(
        "| operation | data | time | answer | app peak before | app peak growth "
        "| growth after the first tenth |"
    )
    print("|---|---|---|---|---|---|---|")
    for count in [int(size) for size in sys.argv[1:]] or SIZES:
        print(bench(count), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        main()
