"""A realistic mix of API calls for locust, against any DataMeta 1.x-compatible server.

    .venv/bin/locust -f benchmarks/locustfile.py --headless -u 50 -r 10 --run-time 60s \\
        --host http://127.0.0.1:6545 --csv OUT        (with DATAMETA_LOAD_TOKEN set)

(``benchmarks.compare --load 60`` runs it against DataMeta 1.1.1 and this project, one after
the other.) Each simulated client is a script with an API key (``DATAMETA_LOAD_TOKEN``) that
stages records, announces, uploads and confirms small files, submits a record with its file
after prevalidating it, lists every submitted set, and reads single sets, files and the column
definitions. The columns and records are those of the shared harness
(``../shared/peer/bench.py``, ``DATAMETA_PEER_BENCH``), which also does the upload in the style
the server answers (1.1.1's multipart POST through the app, or a presigned PUT to S3), so both
servers are asked the very same things. Any answer other than the expected one is a failure.
``DATAMETA_LOAD_MAX_TASKS`` bounds the number of tasks (default 100,000) next to ``--run-time``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task
from locust.exception import StopUser

ROOT = Path(__file__).resolve().parents[1]
PEER_BENCH = Path(
    os.environ.get("DATAMETA_PEER_BENCH", ROOT.parent / "shared" / "peer" / "bench.py")
)
MAX_TASKS = int(os.environ.get("DATAMETA_LOAD_MAX_TASKS", "100000"))
CONTENT = os.urandom(4096)
CHECKSUM = hashlib.md5(CONTENT).hexdigest()  # noqa: S324 (DataMeta's checksums are MD5)
# Digits only: sample ids are S followed by digits, unique on the site across runs.
RUN_TAG = f"{int(time.time()) % 100_000:05d}"


def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("peer_bench", PEER_BENCH)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no harness at {PEER_BENCH}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _harness()
_users = itertools.count()
_tasks = itertools.count()


@events.test_start.add_listener
def define_columns(environment: Any, **_: Any) -> None:
    """The harness's columns, defined once before the clients start (as bench.py does)."""
    api = harness.Api(environment.host, os.environ["DATAMETA_LOAD_TOKEN"], 60)
    session = api.session()
    existing = {d["name"] for d in session.get(api.api + "/metadata", timeout=60).json()}
    for definition in harness.BENCH_DEFS:
        if definition["name"] not in existing:
            session.post(api.api + "/metadata", json=definition, timeout=60).raise_for_status()


class Script(HttpUser):
    """One script with an API key, doing what scripts do, with a short think time."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['DATAMETA_LOAD_TOKEN']}"
        self.client.headers["Accept"] = "application/json"
        self.api = harness.Api(self.host, "", 60)
        self.uploads = harness.Api.upload_session()
        self.tag = f"{RUN_TAG}{next(_users):03d}"
        self.counter = itertools.count()
        self.sets: list[str] = []
        self.files: list[str] = []

    def _count_task(self) -> None:
        if next(_tasks) >= MAX_TASKS:
            raise StopUser()

    def _expect(self, response: Any, *statuses: int) -> Any:
        """A success when the status is one of ``statuses`` (locust's own rule: 2xx, 3xx)."""
        if response.status_code in statuses:
            response.success()
        else:
            response.failure(f"{response.status_code}: {response.text[:200]}")
        return response

    def _stage(self, file_name: str | None = None) -> str | None:
        record = harness.make_record(self.tag, next(self.counter), file_name)
        with self.client.post(
            "/api/v1/metadatasets", json={"record": record}, name="stage", catch_response=True
        ) as response:
            if self._expect(response, 200).status_code != 200:
                return None
            set_id = harness._fid(response.json())
        self.sets.append(set_id)
        return set_id

    def _small_file(self, name: str) -> str | None:
        with self.client.post(
            "/api/v1/files",
            json={"name": name, "checksum": CHECKSUM},
            name="file: announce",
            catch_response=True,
        ) as response:
            if self._expect(response, 200).status_code != 200:
                return None
            announced = response.json()
        started = time.perf_counter()
        error = None
        try:
            self.api.upload(self.uploads, announced, data=CONTENT, filename=name)
        except Exception as failure:  # reported to locust as this request's failure
            error = failure
        self.environment.events.request.fire(
            request_type="PUT/POST",
            name="file: upload 4 KiB",
            response_time=1000 * (time.perf_counter() - started),
            response_length=len(CONTENT),
            exception=error,
            context={},
        )
        if error is not None:
            return None
        file_id = harness._fid(announced)
        with self.client.put(
            f"/api/v1/files/{file_id}",
            json={"contentUploaded": True},
            name="file: confirm",
            catch_response=True,
        ) as response:
            if self._expect(response, 200).status_code != 200:
                return None
        self.files.append(file_id)
        return file_id

    @task(6)
    def stage(self) -> None:
        self._count_task()
        self._stage()

    @task(3)
    def small_file(self) -> None:
        self._count_task()
        self._small_file(f"load_{self.tag}_{next(self.counter)}.bin")

    @task(1)
    def submit(self) -> None:
        """A record and its file: uploaded, staged, prevalidated, submitted."""
        self._count_task()
        name = f"b{self.tag}_{next(self.counter):07d}_R1.fastq.gz"
        file_id = self._small_file(name)
        set_id = self._stage(name) if file_id else None
        if set_id is None or file_id is None:
            return
        body = {"metadatasetIds": [set_id], "fileIds": [file_id], "label": f"load {self.tag}"}
        with self.client.post(
            "/api/v1/presubvalidation", json=body, name="prevalidate", catch_response=True
        ) as response:
            if self._expect(response, 200, 204).status_code not in (200, 204):
                return
        with self.client.post(
            "/api/v1/submissions", json=body, name="submit", catch_response=True
        ) as response:
            self._expect(response, 200)
        self.sets.remove(set_id)
        self.files.remove(file_id)

    @task(1)
    def list_submitted(self) -> None:
        """Every submitted set, as DataMeta 1.x clients ask (1.1.1: 404 while there are none)."""
        self._count_task()
        with self.client.get(
            "/api/v1/metadatasets", name="list all submitted", catch_response=True
        ) as response:
            self._expect(response, 200, 404)

    @task(3)
    def read(self) -> None:
        """The column definitions, one of the client's sets and one of its files."""
        self._count_task()
        with self.client.get("/api/v1/metadata", name="read: metadata", catch_response=True) as r:
            self._expect(r, 200)
        if self.sets:
            with self.client.get(
                f"/api/v1/metadatasets/{self.sets[-1]}", name="read: set", catch_response=True
            ) as r:
                self._expect(r, 200)
        if self.files:
            with self.client.get(
                f"/api/v1/files/{self.files[-1]}", name="read: file", catch_response=True
            ) as r:
                self._expect(r, 200)
