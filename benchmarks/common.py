"""What the benchmarks share: a scratch database on the running stack, timing, memory."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
import webtest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import make_url

from datameta import make_app
from datameta.db import recorded_statements

ROOT = Path(__file__).resolve().parents[1]
BENCH_INI = {
    "datameta.session.secret": "benchmark-secret-that-is-long-enough-0123456789",
    "pyramid_openapi3.enable_response_validation": "false",
    "datameta.links_from_request": "true",
}


def environ_with(env_file: Path) -> dict[str, str]:
    """This process's environment with the settings of a stack's env.sh over it."""
    environ = dict(os.environ)
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        environ[name] = value
    return environ


def stack_environ() -> dict[str, str]:
    """The DATAMETA_* settings of the stack `make run` started (var/env.sh)."""
    environ = dict(os.environ)
    env_file = ROOT / "var" / "env.sh"
    if "DATAMETA_SQLALCHEMY_URL" not in environ and env_file.exists():
        environ = environ_with(env_file)
    if "DATAMETA_SQLALCHEMY_URL" not in environ:
        raise SystemExit("Start the services first: make run")
    return environ


def scratch_database(name: str) -> tuple[str, dict[str, str]]:
    """A fresh, migrated database ``name`` on the stack; returns its URL and the environ."""
    environ = stack_environ()
    url = make_url(environ["DATAMETA_SQLALCHEMY_URL"]).set(database=name)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    config = AlembicConfig(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = rendered
    command.upgrade(config, "head")
    environ["DATAMETA_SQLALCHEMY_URL"] = rendered
    return rendered, environ


def bench_app(environ: dict[str, str]) -> tuple[webtest.TestApp, Any]:
    app = make_app(BENCH_INI, environ=environ)
    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"}), app


def timed(engine: sa.Engine, action: Callable[[], Any]) -> tuple[float, int, Any]:
    """Wall time and SQL statements of ``action``."""
    with recorded_statements(engine) as statements:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
    return elapsed, len(statements), result


def peak_memory(action: Callable[[], Any]) -> tuple[float, Any]:
    """Peak Python memory (MiB) allocated while ``action`` runs.

    Measured in a run of its own: tracing allocations slows Python code down a lot.
    """
    tracemalloc.start()
    result = action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20, result


def wait_until_up(url: str, app: subprocess.Popen | None, seconds: float = 120) -> None:
    """Wait until the app served at ``url`` answers its health check; stop if its process exits."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if app is not None and app.poll() is not None:
            raise SystemExit("the app exited at startup")
        try:
            if requests.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the app at {url} did not come up within {seconds:.0f} s")


def write_distinct_mebibytes(path: Path, size_mib: int, block: bytes) -> None:
    """A file of ``size_mib`` MiB of ``block``, each MiB numbered so that no part equals another."""
    with path.open("wb") as out:
        for number in range(size_mib):
            out.write(number.to_bytes(8, "big") + block[8:])


def reclaim_storage(environ: dict[str, str], prefix: str = "files/") -> None:
    """Delete the objects under ``prefix`` and have the stack's SeaweedFS give their
    space back to the disk.

    SeaweedFS only marks deleted objects; its volumes keep their bytes until vacuumed.
    A benchmark uploading several GiB per run would otherwise fill the disk. The
    vacuum goes to the stack's master (its port follows the S3 port, see
    scripts/stack.sh); elsewhere it is skipped.
    """
    import boto3
    from botocore.config import Config

    endpoint = environ["DATAMETA_STORAGE_S3_ENDPOINT_URL"]
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=environ["DATAMETA_STORAGE_S3_ACCESS_KEY"],
        aws_secret_access_key=environ["DATAMETA_STORAGE_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    bucket = environ["DATAMETA_STORAGE_S3_BUCKET"]
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    s3_url = urlsplit(endpoint)
    if s3_url.port:
        master = f"http://{s3_url.hostname}:{s3_url.port + 1}/vol/vacuum?garbageThreshold=0.0001"
        with contextlib.suppress(requests.RequestException):
            requests.get(master, timeout=600)
