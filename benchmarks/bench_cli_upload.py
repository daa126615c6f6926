"""The command line against a plain boto3 multipart upload of the same file, with the
app's and the worker's CPU time and memory.

Usage (with a stack up: `make run`, or `scripts/stack.sh up DIR PORT` and its env.sh sourced):
    .venv/bin/python -m benchmarks.bench_cli_upload [--port 6590] [--profile] [MiB ...]

On a fresh scratch database of the stack, serves the app as production does
(`pserve production.ini`, granian, one worker, response validation
off) and runs `datameta-worker`; a 40 MiB file goes first to warm the app up.
For each size, writes a file of that many MiB (random bytes, on BENCH_TMP or
/tmp), and --runs times uploads it to the bucket with boto3 (16 MiB parts, 4 in
flight; by default with botocore's default checksums, a CRC32 of each part) and
with `datameta upload` (4 parts in flight, each part's MD5 signed into its URL, the
completion naming the parts' multipart ETag: one MD5 of each byte; the worker
computes the whole file's), one right after the other (the command
line first in every other run), then waits for the worker to verify it. Reports
both throughputs, the app's CPU time per GiB (every thread of every process of
the server, from /proc/PID/task/TID/schedstat, to the nanosecond), the app's
requests during the upload by route (from its access log), the growth of the
app's and the worker's peak resident memory (VmHWM) during that file, the
command line's peak resident memory (and CPU time, its start included: about
0.3 s; boto3's is counted from its upload's start, its import and client
excluded), and the worker's verification. After each upload the stored objects
are deleted and SeaweedFS's volumes vacuumed (`common.reclaim_storage`): the disk
then holds the file and one stored copy at most, 2 x its size.

With --profile, the app is served by waitress inside this process instead, each
request under cProfile, and the functions that took the most CPU time over all
uploads are printed (profiling slows Python down: the CPU figures of such a run
are not the app's).
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import json
import os
import pstats
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from benchmarks.common import (
    BENCH_INI,
    ROOT,
    reclaim_storage,
    scratch_database,
    wait_until_up,
    write_distinct_mebibytes,
)

MiB = 1024 * 1024
BIN = Path(sys.executable).parent
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent ends


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the server's main process and workers)."""
    pids = [pid]
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return pids  # ended meanwhile
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue  # a thread that ended meanwhile
        for child in children:
            pids.extend(process_tree(int(child)))
    return pids


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants, to the nanosecond.

    The scheduler's run time of every thread (/proc/PID/task/TID/schedstat): the
    user and system times of /proc/PID/stat count whole clock ticks (10 ms), too
    coarse for the app's share of an upload. Threads that ended no longer count;
    the app's request threads and the worker's live as long as their process.
    """
    total = 0
    for each in process_tree(pid):
        try:
            tasks = list(Path(f"/proc/{each}/task").iterdir())
        except OSError:
            continue  # ended meanwhile
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except OSError:
                continue  # a thread that ended meanwhile
    return total / 1e9


def peak_rss_mib(pid: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) of ``pid`` and its descendants, by process."""
    peaks = {}
    for each in process_tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[each] = int(line.split()[1]) / 1024
    return peaks


def growth(before: dict[int, float], after: dict[int, float]) -> float:
    return max(after[pid] - before.get(pid, after[pid]) for pid in after)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def boto3_upload(environ: dict[str, str], path: Path, checksums: str) -> tuple[float, float]:
    """Seconds, and CPU seconds of this process (boto3's threads) during the upload.

    ``checksums`` is botocore's request_checksum_calculation: "when_supported" (its
    default since 1.36: a CRC32 of every part, sent as a trailer) or "when_required"
    (none for parts).
    """
    client = boto3.client(
        "s3",
        endpoint_url=environ["DATAMETA_STORAGE_S3_ENDPOINT_URL"],
        aws_access_key_id=environ["DATAMETA_STORAGE_S3_ACCESS_KEY"],
        aws_secret_access_key=environ["DATAMETA_STORAGE_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation=checksums),
    )
    config = TransferConfig(multipart_chunksize=16 * MiB, max_concurrency=4)
    bucket = environ["DATAMETA_STORAGE_S3_BUCKET"]
    start, cpu = time.perf_counter(), time.process_time()
    client.upload_file(str(path), bucket, f"bench/{path.name}", Config=config)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    client.delete_object(Bucket=bucket, Key=f"bench/{path.name}")
    reclaim_storage(environ, "bench/")
    return elapsed, cpu


def cli_upload(
    environ: dict[str, str], path: Path, state: Path, executable: Path = BIN / "datameta"
) -> tuple[float, float, float, str]:
    """Seconds, the command line's CPU seconds and peak RSS in MiB, and its output line."""
    start = time.perf_counter()
    command = [str(executable), "upload", "-q", "--state", str(state), str(path)]
    process = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, text=True)  # noqa: S603
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    assert status == 0, status
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output


def wait_verified(url: str, token: str, file_id: str) -> float:
    """Seconds until the worker has verified the file."""
    start = time.perf_counter()
    while True:
        state = requests.get(
            f"{url}/api/v1/files/{file_id}/verification",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        if state["state"] != "verifying":
            assert state["state"] == "verified", state
            return time.perf_counter() - start
        time.sleep(0.2)


class ProfiledApp:
    """A WSGI app whose every request runs under cProfile, accumulated over all of them."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stats: pstats.Stats | None = None
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        # CPU time of the request's thread: waiting for PostgreSQL or S3 does not count.
        profile = cProfile.Profile(time.thread_time)
        body = profile.runcall(lambda: list(self.app(environ, start_response)))
        with self.lock:
            if self.stats is None:
                self.stats = pstats.Stats(profile)
            else:
                self.stats.add(profile)
        return body


def serve(
    environ: dict[str, str], port: int, profile: bool, log: Any
) -> tuple[Any, ProfiledApp | None]:
    """The app, served as production serves it (or profiled in this process)."""
    if not profile:
        command = [
            str(BIN / "pserve"),
            "production.ini",
            f"http_bind=127.0.0.1:{port}",
            "http_workers=1",
        ]
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=environ, stderr=log, preexec_fn=die_with_parent
        )
        return process, None
    import waitress

    from datameta import make_app

    os.environ.update(environ)
    profiled = ProfiledApp(make_app(BENCH_INI, environ=environ))
    server = waitress.create_server(profiled, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server, profiled


def die_with_parent() -> None:
    """In a child before it runs: SIGTERM it when the benchmark's process ends, however
    (killed, or stopped by a timeout: no ``finally`` runs then), so that no app or
    worker outlives a benchmark."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_on_sigterm() -> None:
    """SIGTERM ends the benchmark through its ``finally`` blocks, which stop what it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def _end(process: subprocess.Popen[Any], grace: float = 60) -> None:
    """SIGTERM, then SIGKILL if ``process`` is still running after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class Site:
    """The app and the worker on a scratch database of the stack, with a site admin."""

    def __init__(self, port: int, *, profile: bool = False) -> None:
        _, self.environ = scratch_database("bench_upload")
        self.url = f"http://127.0.0.1:{port}"
        self.token = secrets.token_urlsafe(32)
        self.email, self.password = "bench@example.org", secrets.token_urlsafe(16) + "aA1!"
        self.environ.update(
            DATAMETA_SESSION_SECRET=secrets.token_urlsafe(40),
            DATAMETA_PUBLIC_URL=self.url,
            # Served over plain HTTP here: the session cookie must come back.
            DATAMETA_SESSION_COOKIE_SECURE="false",
            DATAMETA_URL=self.url,
            DATAMETA_TOKEN=self.token,
        )
        subprocess.run(  # noqa: S603
            [
                str(BIN / "initialize_datameta_db"),
                "-c",
                "production.ini",
                "--initial-user-fullname",
                "Bench",
                "--initial-user-email",
                self.email,
                # "=": a random secret may start with "-", which argparse takes for an option.
                f"--initial-user-pass={self.password}",
                "--initial-group",
                "Bench",
                f"--initial-api-key={self.token}",
                "--create-bucket",
            ],
            cwd=ROOT,
            env=self.environ,
            check=True,
        )
        # The app's log (its access lines count the requests of each upload).
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            "w+", prefix="bench-app-", suffix=".log"
        )
        self.app, self.profiled = serve(self.environ, port, profile, self.log)
        self.app_pid: int | None = None if self.profiled else self.app.pid
        self.worker: subprocess.Popen[bytes] | None = None
        try:
            self.worker = subprocess.Popen(  # noqa: S603
                [str(BIN / "datameta-worker"), "-c", "production.ini"],
                cwd=ROOT,
                env=self.environ,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
            wait_until_up(self.url, None if self.profiled else self.app)
        except BaseException:
            self.stop()  # nothing started may outlive a failed start
            raise

    def stop(self) -> None:
        """Stop the worker and the app, whatever happened before; each is killed if
        it does not end within a minute of SIGTERM (the worker waits for its jobs)."""
        try:
            if self.worker is not None:
                _end(self.worker)
        finally:
            try:
                if self.profiled is None:
                    _end(self.app)
                else:
                    self.app.close()
            finally:
                self.log.close()

    def log_position(self) -> int:
        return Path(self.log.name).stat().st_size

    def requests_since(self, position: int) -> str:
        """The app's requests logged after ``position``, counted by route."""
        with open(self.log.name) as log:
            log.seek(position)
            routes = Counter(
                json.loads(line).get("route", "?")
                for line in log
                if '"datameta.access"' in line and line.startswith("{")
            )
        return ", ".join(f"{count} {route.removeprefix('api_')}" for route, count in routes.items())

    def app_cpu(self) -> float:
        """CPU seconds of the app so far (of this process when profiled)."""
        return cpu_seconds(self.app_pid) if self.app_pid else time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1024, 5120], metavar="MiB")
    parser.add_argument("--port", type=int, default=6590, help="the app's port")
    parser.add_argument("--profile", action="store_true", help="profile the app's requests")
    parser.add_argument("--runs", type=int, default=1, help="runs of each size (default: 1)")
    parser.add_argument(
        "--boto3-checksums",
        choices=["when_supported", "when_required"],
        default="when_supported",
        help="boto3's request_checksum_calculation: when_supported (its default, a CRC32 "
        "of each part) or when_required (none)",
    )
    parser.add_argument(
        "--other-cli",
        metavar="PATH",
        help="another `datameta` executable (e.g. an older checkout's .venv/bin/datameta) "
        "measured in the same runs, on the same server",
    )
    args = parser.parse_args()
    stop_on_sigterm()
    site = Site(args.port, profile=args.profile)
    try:
        run(args, site)
    finally:
        site.stop()
    if site.profiled is not None and site.profiled.stats is not None:
        site.profiled.stats.sort_stats("cumulative").print_stats(40)
        site.profiled.stats.sort_stats("tottime").print_stats(25)


def measure_cli(
    site: Site, executable: Path, path: Path, state: Path, size_mib: int
) -> dict[str, Any]:
    """One upload by a command line, with the app's and the worker's share of it."""
    assert site.worker is not None
    app_pid, worker_pid = site.app_pid, site.worker.pid
    app_cpu = site.app_cpu()
    app_rss = peak_rss_mib(app_pid) if app_pid else {}
    worker_cpu, worker_rss = cpu_seconds(worker_pid), peak_rss_mib(worker_pid)
    log_at = site.log_position()
    seconds, cli_cpu, cli_rss, output = cli_upload(site.environ, path, state, executable)
    figures: dict[str, Any] = {"seconds": seconds, "cpu": cli_cpu, "rss": cli_rss}
    figures["app_cpu"] = site.app_cpu() - app_cpu
    figures["app_growth"] = growth(app_rss, peak_rss_mib(app_pid)) if app_pid else float("nan")
    figures["requests"] = site.requests_since(log_at)
    figures["verified"] = wait_verified(site.url, site.token, output.split("\t")[1])
    figures["worker_cpu"] = cpu_seconds(worker_pid) - worker_cpu
    figures["worker_growth"] = growth(worker_rss, peak_rss_mib(worker_pid))
    return figures


def run(args: argparse.Namespace, site: Site) -> None:
    environ, url, token = site.environ, site.url, site.token
    print(
        f"boto3: upload_file, 16 MiB parts, 4 in flight, checksums {args.boto3_checksums}\n"
        "| file | run, command line | load before | boto3 | command line | ratio "
        "| client CPU per GiB (boto3 / datameta) | app CPU | app CPU per GiB | app requests "
        "| app peak RSS growth | datameta peak RSS | verification | worker CPU per GiB "
        "| worker peak RSS growth |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    block = os.urandom(MiB)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
        # A served app is warm: its first requests build what later ones reuse.
        warm_up = Path(folder) / "warm-up.bin"
        warm_up.write_bytes(block * 40)
        *_, output = cli_upload(environ, warm_up, Path(folder) / "state.json")
        wait_verified(url, token, output.split("\t")[1])
    for size_mib in args.sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
            path = Path(folder) / f"bench-{size_mib}.bin"
            write_distinct_mebibytes(path, size_mib, block)
            for run_number in range(1, args.runs + 1):
                load_before = load()
                # Every other run boto3 goes last and the command lines swap places:
                # load that changes during a run then favours none of them.
                clis = [("datameta upload", BIN / "datameta")]
                if args.other_cli:
                    clis.append((f"other: {args.other_cli}", Path(args.other_cli)))
                if not run_number % 2:
                    clis.reverse()
                if run_number % 2:
                    plain, plain_cpu = boto3_upload(environ, path, args.boto3_checksums)
                rows = []
                for name, executable in clis:
                    state = Path(folder) / f"state-{run_number}-{len(rows)}.json"
                    rows.append((name, measure_cli(site, executable, path, state, size_mib)))
                    reclaim_storage(environ)  # the disk holds the stored file once at most
                if not run_number % 2:
                    plain, plain_cpu = boto3_upload(environ, path, args.boto3_checksums)
                gib = size_mib / 1024
                for name, figures in sorted(rows):
                    ours, cli_cpu = figures["seconds"], figures["cpu"]
                    print(
                        f"| {size_mib} MiB | {run_number} {name} | {load_before} "
                        f"| {size_mib / plain:.0f} MiB/s | {size_mib / ours:.0f} MiB/s "
                        f"| {plain / ours:.0%} "
                        f"| {plain_cpu / gib:.2f} s / {cli_cpu / gib:.2f} s "
                        f"| {figures['app_cpu']:.3f} s | {figures['app_cpu'] / gib:.3f} s "
                        f"| {figures['requests']} | {figures['app_growth']:+.1f} MiB "
                        f"| {figures['rss']:.0f} MiB | {figures['verified']:.1f} s "
                        f"| {figures['worker_cpu'] / gib:.2f} s "
                        f"| {figures['worker_growth']:+.1f} MiB |",
                        flush=True,
                    )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
