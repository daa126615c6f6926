"""The app's CPU time for each request of one multipart upload, one request at a time.

Usage (with a stack up and its env.sh sourced):
    .venv/bin/python -m benchmarks.multipart_requests [--port 6590] [--repeat 5] [MiB]

Serves the app as `bench_cli_upload` does (gunicorn as in production, one worker
of 4 threads) on a scratch database, then makes the calls `datameta upload`
makes for a file of MiB (default 1024) one after the other: the start (with the
first parts' MD5s, answered with their URLs), the part URLs in the batches the
command line asks for, and the completion by the parts' ETag. The parts go to
S3 between the calls, straight from this process. Each call's cost is the app's
CPU time (every thread of every server process, from schedstat) from just
before the request to just after its answer; the server's own loops while it
waits (its idle CPU per second) are reported apart. The median of --repeat
uploads is printed per call.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from typing import Any

import requests

from benchmarks.bench_cli_upload import Site, cpu_seconds, load
from benchmarks.common import reclaim_storage

MiB = 1024 * 1024
FIRST_PARTS = 4  # what the command line hashes before it starts an upload
LATER_BATCHES = (17,)  # then everything hashed when a sender is about to run out


def part_content(block: bytes, number: int, length: int) -> bytes:
    return number.to_bytes(8, "big") + block[8:length]


def one_upload(
    site: Site, size: int, block: bytes, session: requests.Session, *, urls_at_start: bool = True
) -> list[tuple[str, float]]:
    """The app's CPU seconds of each call of one upload of ``size`` bytes."""
    costs: list[tuple[str, float]] = []

    def call(name: str, method: str, path: str, body: Any) -> Any:
        before = cpu_seconds(site.app_pid) if site.app_pid else 0.0
        response = session.request(method, f"{site.url}/api/v1{path}", json=body, timeout=60)
        spent = (cpu_seconds(site.app_pid) if site.app_pid else 0.0) - before
        response.raise_for_status()
        costs.append((name, spent))
        return response.json()

    part_size = 16 * MiB
    count = -(-size // part_size)
    lengths = [min(part_size, size - (n - 1) * part_size) for n in range(1, count + 1)]
    md5s = [
        hashlib.md5(part_content(block, n, lengths[n - 1]), usedforsecurity=False).digest()
        for n in range(1, count + 1)
    ]

    def wanted(numbers: range) -> list[dict[str, Any]]:
        return [{"partNumber": n, "md5": md5s[n - 1].hex()} for n in numbers]

    first = wanted(range(1, min(FIRST_PARTS, count) + 1))
    start: dict[str, Any] = {"name": "reads.bam", "size": size}
    if urls_at_start:
        start.update(partSize=part_size, parts=first)
    upload = call("start", "POST", "/multipart-uploads", start)
    assert upload["partSize"] == part_size, upload["partSize"]
    file_id = upload["fileId"]["uuid"]
    urls = list(upload.get("partUrls", []))
    batches: list[int] = [] if urls_at_start else [len(first)]
    left = count - len(urls) - sum(batches)
    for batch in LATER_BATCHES:
        if left > 0:
            batches.append(min(batch, left))
            left -= batches[-1]
    while left > 0:
        batches.append(min(100, left))
        left -= batches[-1]
    number = len(urls) + 1
    for batch in batches:
        path = f"/multipart-uploads/{file_id}/part-urls"
        urls += call("part-urls", "POST", path, {"parts": wanted(range(number, number + batch))})[
            "parts"
        ]
        number += batch
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
    args = parser.parse_args()
    site = Site(args.port)
    block = os.urandom(16 * MiB)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {site.token}"
    try:
        print(f"load before: {load()}")
        urls_at_start = not args.no_urls_at_start
        one_upload(site, 40 * MiB, block, session, urls_at_start=urls_at_start)  # warm-up
        idle_before, idle_start = cpu_seconds(site.app_pid or 0), time.perf_counter()
        time.sleep(5)
        idle = (cpu_seconds(site.app_pid or 0) - idle_before) / (time.perf_counter() - idle_start)
        runs = []
        for _ in range(args.repeat):
            runs.append(
                one_upload(site, args.size * MiB, block, session, urls_at_start=urls_at_start)
            )
            reclaim_storage(site.environ)
    finally:
        site.stop()
    print(f"load after: {load()}")
    print(f"| call | app CPU, median of {args.repeat} (ms) | each run (ms) |\n|---|---|---|")
    for index, (name, _) in enumerate(runs[0]):
        each = [run[index][1] * 1000 for run in runs]
        shown = ", ".join(f"{v:.2f}" for v in each)
        print(f"| {name} | {statistics.median(each):.2f} | {shown} |")
    totals = [sum(cost for _, cost in run) * 1000 for run in runs]
    each_total = ", ".join(f"{v:.2f}" for v in totals)
    print(f"| all {len(runs[0])} calls | {statistics.median(totals):.2f} | {each_total} |")
    print(f"server loops while idle: {idle * 1000:.2f} ms of CPU per second")


if __name__ == "__main__":
    main()
