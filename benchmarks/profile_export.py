"""Where an export's CPU goes: one export of every set, in-process, under cProfile.

    .venv/bin/python -m benchmarks.profile_export [csv|tsv|xlsx|json] [--no-profile]

Against the database ``bench_finding`` seeded (run it once first), with a sourced
env.sh. Prints the app's CPU time for the whole export (this process: WebTest's own
work is in it, a few percent), then cProfile's top functions by own and cumulative time.
PostgreSQL's CPU is not in it.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time

from sqlalchemy.engine import make_url

from benchmarks.bench_api import api_key
from benchmarks.bench_finding import DATABASE, reuse
from benchmarks.common import bench_app


def main() -> None:
    file_format = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "csv")
    engine, environ, token = reuse()
    engine.dispose()
    client, _ = bench_app(environ)
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/api/v1/metadatasets", {"format": file_format, "limit": "10"}, headers=headers)
    profile = cProfile.Profile() if "--no-profile" not in sys.argv else None
    started, wall = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    response = client.get("/api/v1/metadatasets", {"format": file_format}, headers=headers)
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    print(
        f"{file_format}: {len(response.body) / 2**20:.0f} MiB, app CPU {cpu:.2f} s, "
        f"wall {wall:.2f} s, load {os.getloadavg()[0]:.1f}"
        + (" (under cProfile)" if profile else "")
    )
    if profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(18)
        stats.sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    assert make_url and api_key and DATABASE  # the imports name what the run needs
    main()
