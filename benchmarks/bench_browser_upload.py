"""A large file uploaded through the submit page in headless Chromium (the browser path).

Usage (with a stack up: `make run`, or `scripts/stack.sh up DIR PORT` and its env.sh sourced):
    .venv/bin/python -m benchmarks.bench_browser_upload [--port 6591] [MiB ...]

Serves the app and the worker as `benchmarks.bench_cli_upload` does (production
settings, a scratch database), logs in with Playwright in Debian's headless
Chromium, and drops a file of each size (default 1024 MiB, random bytes) onto
the submit page, which sends it in parts (4 in flight, MD5s from Web Workers).
Reports the time from choosing the file until the page shows it uploaded and
verifying, the rate, the app's CPU time (every process of the server, from
/proc) and Chromium's memory: the peak of the resident memory of all its
processes together (sampled every 0.2 s) and the largest peak of one of them
(VmHWM).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.bench_cli_upload import MiB, Site, load, process_tree
from benchmarks.common import write_distinct_mebibytes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def chromium_pids() -> list[int]:
    """Chromium's processes (browser, renderers, utilities) started by this benchmark."""
    pids = []
    for pid in process_tree(os.getpid()):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if "chrom" in name:
            pids.append(pid)
    return pids


def status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemorySampler(threading.Thread):
    """The peak of Chromium's total resident memory while the upload runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_total = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            total = 0.0
            for pid in chromium_pids():
                with contextlib.suppress(OSError):  # a process that just ended
                    total += status_mib(pid, "VmRSS")
            self.peak_total = max(self.peak_total, total)


def upload_through_the_page(site: Site, path: Path) -> tuple[float, float, float, float, float]:
    """Seconds, app CPU seconds, Chromium's total RSS before and at its peak, and the
    largest peak of one Chromium process."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_context(base_url=site.url).new_page()
        page.goto("/login")
        page.fill("#email", site.email)
        page.fill("#password", site.password)
        page.click("button[type=submit]")
        page.wait_for_url("**/home")
        page.goto("/submit")
        page.wait_for_selector("#submit-app[data-ready=true]")
        before = 0.0
        for pid in chromium_pids():
            with contextlib.suppress(OSError):
                before += status_mib(pid, "VmRSS")
        sampler = MemorySampler()
        sampler.start()
        app_cpu = site.app_cpu()
        started = time.perf_counter()
        page.set_input_files("#data-input", str(path))
        row = page.locator(f"#files-table tbody tr[data-name='{path.name}']")
        row.filter(has_text="verif").wait_for(timeout=3_600_000)
        elapsed = time.perf_counter() - started
        app_cpu = site.app_cpu() - app_cpu
        sampler.stopped.set()
        sampler.join()
        one = 0.0
        for pid in chromium_pids():
            with contextlib.suppress(OSError):  # a process that just ended
                one = max(one, status_mib(pid, "VmHWM"))
        browser.close()
    return elapsed, app_cpu, before, sampler.peak_total, one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1024], metavar="MiB")
    parser.add_argument("--port", type=int, default=6591, help="the app's port")
    args = parser.parse_args()
    site = Site(args.port)
    print(
        "| file | load before | time | rate | app CPU | app CPU per GiB | Chromium RSS before "
        "| Chromium RSS peak (all processes) | largest peak of one process |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    try:
        block = os.urandom(MiB)
        for size_mib in args.sizes:
            with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
                path = Path(folder) / f"browser-{size_mib}.bin"
                write_distinct_mebibytes(path, size_mib, block)
                load_before = load()
                elapsed, app_cpu, before, peak, one = upload_through_the_page(site, path)
                print(
                    f"| {size_mib} MiB | {load_before} | {elapsed:.1f} s "
                    f"| {size_mib / elapsed:.0f} MiB/s | {app_cpu:.3f} s "
                    f"| {app_cpu / (size_mib / 1024):.3f} s | {before:.0f} MiB | {peak:.0f} MiB "
                    f"| {one:.0f} MiB |",
                    flush=True,
                )
    finally:
        site.stop()
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
