"""App CPU per request of the calls scripts make most, in-process, with an optional profile.

    .venv/bin/python -m benchmarks.profile_requests [--n 300] [--profile stage|files]
    .venv/bin/python -m benchmarks.profile_requests --profile files --phase announce|confirm
    .venv/bin/python -m benchmarks.profile_requests --only files [--logic]
    .venv/bin/python -m benchmarks.profile_requests --first cold|warm

Against the stack of `make run` (or a sourced env.sh), on a scratch database with 20
columns: ``POST /metadatasets`` of one record, and a small file announced
(``POST /files``), uploaded to S3 with the presigned URL and confirmed
(``PUT /files/{id}``). CPU time is this process's (time.process_time) around the app's
calls only: the upload to S3 is not counted, WebTest's own work is (a few percent).
PostgreSQL's CPU is not in it. The announce and the confirm of a small file are also
timed apart. With ``--profile``, cProfile's top functions of that workload follow (CPU
time, not wall time), by own time and by cumulative time; ``--phase`` profiles only the
announce or only the confirm. ``--only`` runs one workload.

With ``--logic``, the small files skip HTTP and the web framework: the announce and
the confirm call ``logic.files`` directly, each in a transaction of its own committed
at its end, as a lean request path would; what remains is the logic, SQL and storage
part of each request. The CPU of the two logic calls alone (``announce_file``,
``update_file``: without opening the session, loading the user and committing) is
reported beside it.

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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import sqlalchemy as sa
import transaction

from benchmarks.bench_api import api_key
from benchmarks.common import bench_app, scratch_database
from benchmarks.seed import COLUMNS, add_group_and_user, define_columns
from datameta import warm_up
from datameta.config import settings_of
from datameta.db import TRANSACTION_MANAGER_KEY
from datameta.logic import files
from datameta.models import User

CONTENT = b"x" * 4096
CHECKSUM = hashlib.md5(CONTENT).hexdigest()  # noqa: S324 (DataMeta's checksums are MD5)


class Phases:
    """CPU time of the named phases of each call; cProfile around one phase, or all."""

    def __init__(self, profiler: cProfile.Profile | None, phase: str | None) -> None:
        self.profiler = profiler
        self.phase = phase
        self.cpu: dict[str, list[float]] = {}
        # Parts of a phase, reported beside it, not added to the call's CPU.
        self.parts: dict[str, list[float]] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        profiled = self.profiler is not None and self.phase in (None, name)
        if profiled:
            self.profiler.enable()
        started = time.process_time()
        try:
            yield
        finally:
            self.cpu.setdefault(name, []).append(time.process_time() - started)
            if profiled:
                self.profiler.disable()

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self.parts.setdefault(name, []).append(time.process_time() - started)


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
    return client, {"Authorization": f"Bearer {token}"}, user_id


def stage_one(client, headers: dict[str, str], number: int, phases: Phases) -> None:
    with phases.timed("stage"):
        client.post_json("/api/v1/metadatasets", {"record": record(number)}, headers=headers)


def upload(url: str, headers: dict[str, str]) -> None:
    response = requests.put(url, data=CONTENT, headers=headers, timeout=30)
    response.raise_for_status()


def file_one(client, headers: dict[str, str], number: int, phases: Phases) -> None:
    with phases.timed("announce"):
        announced = client.post_json(
            "/api/v1/files", {"name": f"small-{number}.txt", "checksum": CHECKSUM}, headers=headers
        ).json
    upload(announced["urlToUpload"], announced["requestHeaders"])
    with phases.timed("confirm"):
        client.put_json(
            f"/api/v1/files/{announced['id']['site']}", {"contentUploaded": True}, headers=headers
        )


class LogicCalls:
    """The small file's two calls straight to ``logic.files``: a transaction each, the
    actor loaded by primary key in it (as a request's authentication would)."""

    def __init__(self, client, user_id: int) -> None:
        registry = client.app.registry
        self.factory = registry["dbsession_factory"]
        self.storage = registry["storage"]
        self.settings = settings_of(registry)
        self.user_id = user_id
        self.manager = transaction.TransactionManager(explicit=True)

    @contextmanager
    def session(self) -> Iterator[tuple[Any, User]]:
        db = self.factory(info={TRANSACTION_MANAGER_KEY: self.manager})
        try:
            with self.manager:
                yield db, db.get(User, self.user_id)
        finally:
            db.close()

    def file_one(self, number: int, phases: Phases) -> None:
        with phases.timed("announce"), self.session() as (db, actor), phases.part("announce_file"):
            announced = files.announce_file(
                db,
                actor,
                name=f"small-{number}.txt",
                checksum=CHECKSUM,
                storage=self.storage,
                settings=self.settings,
                app_upload_url=str,
            )
            site_id = announced.file.site_id
        upload(announced.url, announced.headers)
        with phases.timed("confirm"), self.session() as (db, actor), phases.part("update_file"):
            files.update_file(db, actor, site_id, storage=self.storage, content_uploaded=True)


WORKLOADS = ("stage", "files")


def measure(
    name: str, n: int, *, profile: bool, phase: str | None = None, logic: bool = False
) -> None:
    client, headers, user_id = prepare()
    if name == "files" and logic:
        calls = LogicCalls(client, user_id)

        def action(number: int, phases: Phases) -> None:
            calls.file_one(number, phases)
    else:
        one = stage_one if name == "stage" else file_one

        def action(number: int, phases: Phases) -> None:
            one(client, headers, number, phases)

    for number in range(20):  # warm-up: caches, connections, imports
        action(100_000 + number, Phases(None, None))
    profiler = cProfile.Profile(time.process_time) if profile else None
    phases = Phases(profiler, phase)
    for number in range(n):
        action(number, phases)
    per_call = [sum(cpu) for cpu in zip(*phases.cpu.values(), strict=True)]
    apart = ""
    if len(phases.cpu) > 1:
        apart = (
            " ("
            + ", ".join(
                f"{phase_name} {1000 * statistics.median(cpu):.2f}"
                for phase_name, cpu in [*phases.cpu.items(), *phases.parts.items()]
            )
            + ")"
        )
    print(
        f"{name}{' (logic only)' if logic and name == 'files' else ''}: {n} calls, app CPU per "
        f"call: median {1000 * statistics.median(per_call):.2f} ms{apart}, "
        f"mean {1000 * statistics.fmean(per_call):.2f} ms"
        + (f" (under cProfile{', ' + phase + ' profiled' if phase else ''})" if profile else "")
    )
    if profiler:
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(30)
            print(out.getvalue())


def measure_first(*, warm: bool) -> None:
    client, headers, _ = prepare()
    if warm:
        started = time.process_time()
        warm_up(client.app.registry)
        print(f"warm-up: {1000 * (time.process_time() - started):.1f} ms of CPU")
    for name, one in (("stage", stage_one), ("files", file_one)):
        cpu = []
        for number in range(3):
            phases = Phases(None, None)
            one(client, headers, 200_000 + number, phases)
            cpu.append(sum(times[0] for times in phases.cpu.values()))
        print(
            f"{name}, {'after' if warm else 'without'} the warm-up: CPU of calls 1, 2, 3: "
            + ", ".join(f"{1000 * c:.1f}" for c in cpu)
            + " ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--only", choices=WORKLOADS)
    parser.add_argument("--profile", choices=WORKLOADS)
    parser.add_argument("--phase", choices=["announce", "confirm"])
    parser.add_argument("--logic", action="store_true", help="small files: logic calls, no HTTP")
    parser.add_argument("--first", choices=["cold", "warm"])
    args = parser.parse_args()
    if args.first:
        measure_first(warm=args.first == "warm")
        return
    for name in WORKLOADS:
        if args.only in (None, name):
            measure(name, args.n, profile=False, logic=args.logic)
    if args.profile:
        measure(args.profile, args.n, profile=True, phase=args.phase, logic=args.logic)


if __name__ == "__main__":
    main()
