"""The app's CPU time for each request of one multipart upload, one request at a time.

Usage (with a stack up and its env.sh sourced):
    .venv/bin/python -m benchmarks.multipart_requests [--port 6590] [--repeat 5]
        [--compare-bodies] [--profile N] [MiB]

Serves the app as `bench_cli_upload` does (granian as in production, one worker)
on a scratch database, then makes the calls `datameta upload`
makes for a file of MiB (default 1024) one after the other: the start (with the
first parts' MD5s, answered with their URLs), the other parts' URLs in calls of
up to 100 (in the compact body; with --compare-bodies also as a list of parts),
and the completion by the parts' ETag. The parts go to
S3 between the calls, straight from this process. Each call's cost is the app's
CPU time (every thread of every server process, from schedstat) from just
before the request to just after its answer; the server's own loops while it
waits (its idle CPU per second) are reported apart. The median of --repeat
uploads is printed per call.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import time
from typing import Any

import requests

from benchmarks.bench_cli_upload import Site, load, stop_on_sigterm
from benchmarks.common import reclaim_storage
from datameta.cli import URLS_PER_REQUEST, expected_part_size, first_batch

MiB = 1024 * 1024
JOBS = 4  # parts in flight, as `datameta upload` sends them by default


def part_content(block: bytes, number: int, length: int) -> bytes:
    return number.to_bytes(8, "big") + block[8:length]


def one_upload(
    site: Site,
    size: int,
    block: bytes,
    session: requests.Session,
    *,
    urls_at_start: bool = True,
    compact: bool = True,
) -> list[tuple[str, float]]:
    """The app's CPU seconds of each call of one upload of ``size`` bytes.

    The calls `datameta upload` makes when its senders never run short: the start
    with the first parts (``first_batch``), the rest in calls of up to 100 URLs
    (in the compact body, or as a list of parts), the completion.
    """
    costs: list[tuple[str, float]] = []

    def call(name: str, method: str, path: str, body: Any) -> Any:
        before = site.app_cpu()
        response = session.request(method, f"{site.url}/api/v1{path}", json=body, timeout=60)
        spent = site.app_cpu() - before
        response.raise_for_status()
        costs.append((name, spent))
        return response.json()

    part_size = expected_part_size(size)
    count = -(-size // part_size)
    lengths = [min(part_size, size - (n - 1) * part_size) for n in range(1, count + 1)]
    md5s = [
        hashlib.md5(part_content(block, n, lengths[n - 1]), usedforsecurity=False).digest()
        for n in range(1, count + 1)
    ]

    def wanted(numbers: range) -> dict[str, Any]:
        if compact:
            md5s_b64 = [base64.b64encode(md5s[n - 1]).decode() for n in numbers]
            return {"firstPart": numbers.start, "md5s": md5s_b64}
        return {"parts": [{"partNumber": n, "md5": md5s[n - 1].hex()} for n in numbers]}

    first = range(1, first_batch(count, JOBS) + 1)
    start: dict[str, Any] = {"name": "reads.bam", "size": size}
    if urls_at_start:
        start.update(partSize=part_size, **wanted(first))
        start.pop("firstPart", None)  # the start's compact parts are 1, 2, ...
    upload = call("start", "POST", "/multipart-uploads", start)
    assert upload["partSize"] == part_size, upload["partSize"]
    file_id = upload["fileId"]["uuid"]
    urls = list(upload.get("partUrls", []))
    number = len(urls) + 1
    while number <= count:
        batch = range(number, min(count, number + URLS_PER_REQUEST - 1) + 1)
        path = f"/multipart-uploads/{file_id}/part-urls"
        urls += call(f"part-urls ({len(batch)})", "POST", path, wanted(batch))["parts"]
        number = batch.stop
    for url in urls:
        n = url["partNumber"]
        response = requests.put(
            url["url"],
            data=part_content(block, n, lengths[n - 1]),
            headers=url["requestHeaders"],
            timeout=300,
        )
        assert response.status_code == 200, response.text
    etag = f"{hashlib.md5(b''.join(md5s), usedforsecurity=False).hexdigest()}-{count}"
    call("complete", "POST", f"/multipart-uploads/{file_id}/complete", {"multipartEtag": etag})
    return costs


def measure(
    site: Site, args: argparse.Namespace, block: bytes, session: requests.Session, compact: bool
) -> list[list[tuple[str, float]]]:
    urls_at_start = not args.no_urls_at_start
    kind = {"urls_at_start": urls_at_start, "compact": compact}
    one_upload(site, 40 * MiB, block, session, **kind)  # warm-up
    if site.profiled is not None:
        site.profiled.stats = None  # the first requests configure what later ones reuse
    runs = []
    for _ in range(args.repeat):
        runs.append(one_upload(site, args.size * MiB, block, session, **kind))
        reclaim_storage(site.environ)
    return runs


def table(title: str, runs: list[list[tuple[str, float]]]) -> None:
    print(f"\n{title}")
    print(f"| call | app CPU, median of {len(runs)} (ms) | each run (ms) |\n|---|---|---|")
    for index, (name, _) in enumerate(runs[0]):
        each = [run[index][1] * 1000 for run in runs]
        shown = ", ".join(f"{v:.2f}" for v in each)
        print(f"| {name} | {statistics.median(each):.2f} | {shown} |")
    totals = [sum(cost for _, cost in run) * 1000 for run in runs]
    each_total = ", ".join(f"{v:.2f}" for v in totals)
    print(f"| all {len(runs[0])} calls | {statistics.median(totals):.2f} | {each_total} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("size", nargs="?", type=int, default=1024, metavar="MiB")
    parser.add_argument("--port", type=int, default=6590, help="the app's port")
    parser.add_argument("--repeat", type=int, default=5, help="uploads measured (default: 5)")
    parser.add_argument(
        "--no-urls-at-start",
        action="store_true",
        help="ask for the first parts' URLs in a call of their own (as before the start "
        "answered them)",
    )
    parser.add_argument(
        "--compare-bodies",
        action="store_true",
        help="also measure the part-URL calls with the list of parts ({parts: [...]}), "
        "after the compact body ({firstPart, md5s})",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="serve the app in this process with each request under cProfile and print "
        "the N functions that took the most time (the CPU figures are then not the app's)",
    )
    args = parser.parse_args()
    stop_on_sigterm()
    site = Site(args.port, profile=args.profile is not None)
    block = os.urandom(expected_part_size(args.size * MiB))
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {site.token}"
    results = {}
    try:
        print(f"load before: {load()}")
        idle_before, idle_start = site.app_cpu(), time.perf_counter()
        time.sleep(5)
        idle = (site.app_cpu() - idle_before) / (time.perf_counter() - idle_start)
        results["compact body ({firstPart, md5s})"] = measure(site, args, block, session, True)
        if args.compare_bodies:
            results["list of parts ({parts: [...]})"] = measure(site, args, block, session, False)
    finally:
        site.stop()
    print(f"load after: {load()}")
    for title, runs in results.items():
        table(title, runs)
    print(f"server loops while idle: {idle * 1000:.2f} ms of CPU per second")
    if site.profiled is not None and site.profiled.stats is not None:
        site.profiled.stats.sort_stats("tottime").print_stats(args.profile)
        site.profiled.stats.sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
