"""App CPU per request of the calls scripts make most, in-process, with an optional profile.

    .venv/bin/python -m benchmarks.profile_requests [--n 300] [--profile stage|files]
    .venv/bin/python -m benchmarks.profile_requests --first cold|warm

Against the stack of `make run` (or a sourced env.sh), on a scratch database with 20
columns: ``POST /metadatasets`` of one record, and a small file announced
(``POST /files``), uploaded to S3 with the presigned URL and confirmed
(``PUT /files/{id}``). CPU time is this process's (time.process_time) around the app's
calls only: the upload to S3 is not counted, WebTest's own work is (a few percent).
PostgreSQL's CPU is not in it. With ``--profile``, cProfile's top functions of that
workload follow, by own time and by cumulative time.

With ``--first``, instead: the CPU of the first three stagings and small files of an app
just built, as a server worker's first requests, without (``cold``) or after
(``warm``) ``datameta.warm_up``. Once per process: some of what the first calls build
is kept for the process, so a second fresh app in the same process would not be cold.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import pstats
import statistics
import time
from collections.abc import Callable

import requests
import sqlalchemy as sa

from benchmarks.bench_api import api_key
from benchmarks.common import bench_app, scratch_database
from benchmarks.seed import COLUMNS, add_group_and_user, define_columns
from datameta import warm_up

CONTENT = b"x" * 4096


def record(number: int) -> dict[str, str]:
    values = {f"C{index:02d}": f"value {index} {number}" for index in range(3, COLUMNS)}
    return {"C01": f"S{number}", "C02": "2024-01-31", **values, f"C{COLUMNS:02d}": None}


def prepare():
    url, environ = scratch_database("datameta_bench_profile")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        define_columns(connection, file_column=True)
        _, user_id = add_group_and_user(connection)
    token = api_key(engine, user_id)
    engine.dispose()
    client, _ = bench_app(environ)
    return client, {"Authorization": f"Bearer {token}"}


def stage_one(client, headers: dict[str, str], number: int) -> float:
    started = time.process_time()
    client.post_json("/api/v1/metadatasets", {"record": record(number)}, headers=headers)
    return time.process_time() - started


def file_one(client, headers: dict[str, str], number: int) -> float:
    checksum = hashlib.md5(CONTENT).hexdigest()  # noqa: S324 (DataMeta's checksums are MD5)
    started = time.process_time()
    announced = client.post_json(
        "/api/v1/files", {"name": f"small-{number}.txt", "checksum": checksum}, headers=headers
    ).json
    cpu = time.process_time() - started
    response = requests.put(
        announced["urlToUpload"], data=CONTENT, headers=announced["requestHeaders"], timeout=30
    )
    response.raise_for_status()
    started = time.process_time()
    client.put_json(
        f"/api/v1/files/{announced['id']['site']}", {"contentUploaded": True}, headers=headers
    )
    return cpu + time.process_time() - started


WORKLOADS: dict[str, Callable] = {"stage": stage_one, "files": file_one}


def measure(name: str, n: int, *, profile: bool) -> None:
    client, headers = prepare()
    action = WORKLOADS[name]
    for number in range(20):  # warm-up: caches, connections, imports
        action(client, headers, 100_000 + number)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    cpu = [action(client, headers, number) for number in range(n)]
    if profiler:
        profiler.disable()
    print(
        f"{name}: {n} requests, app CPU per call: median {1000 * statistics.median(cpu):.2f} ms, "
        f"mean {1000 * statistics.fmean(cpu):.2f} ms" + (" (under cProfile)" if profile else "")
    )
    if profiler:
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
            print(out.getvalue())


def measure_first(*, warm: bool) -> None:
    client, headers = prepare()
    if warm:
        started = time.process_time()
        warm_up(client.app.registry)
        print(f"warm-up: {1000 * (time.process_time() - started):.1f} ms of CPU")
    for name, action in WORKLOADS.items():
        cpu = [action(client, headers, 200_000 + number) for number in range(3)]
        print(
            f"{name}, {'after' if warm else 'without'} the warm-up: CPU of calls 1, 2, 3: "
            + ", ".join(f"{1000 * c:.1f}" for c in cpu)
            + " ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--profile", choices=sorted(WORKLOADS))
    parser.add_argument("--first", choices=["cold", "warm"])
    args = parser.parse_args()
    if args.first:
        measure_first(warm=args.first == "warm")
        return
    for name in WORKLOADS:
        measure(name, args.n, profile=False)
    if args.profile:
        measure(args.profile, args.n, profile=True)


if __name__ == "__main__":
    main()
