"""Health reports each component that stops answering, by name.

This test starts a private stack of its own, so that it can stop services
without disturbing the other tests.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import webtest

from datameta import make_app
from tests.conftest import ROOT, TEST_INI
from tests.helpers import assert_api_error

STACK = os.path.join(ROOT, "scripts", "stack.sh")


def read_env(path):
    environ = {}
    with open(path) as env_file:
        for line in env_file:
            name, _, value = line.removeprefix("export ").strip().partition("=")
            environ[name] = value
    return environ


@pytest.fixture(scope="module")
def private_stack():
    folder = tempfile.mkdtemp(prefix="datameta-health-")
    base = int(os.environ.get("TEST_PORT_BASE", "17400")) + 100
    try:
        subprocess.run(
            [STACK, "up", folder, str(base)], check=True, env={**os.environ, "STACK_FAST": "1"}
        )
        yield folder, read_env(os.path.join(folder, "env.sh"))
    finally:
        subprocess.run([STACK, "down", folder], check=False)
        shutil.rmtree(folder, ignore_errors=True)


def stop(folder, pid_file):
    with open(os.path.join(folder, pid_file)) as handle:
        pid = int(handle.read())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):  # not our child process, so wait by polling
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def stop_postgres(folder):
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl"
    data = os.path.join(folder, "pg", "data")
    subprocess.run(
        [*as_postgres, pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
        check=True,
        capture_output=True,
    )


def down_components(response):
    return {item["field"] for item in assert_api_error(response, 503, "ServiceUnavailable")}


def test_health_names_each_component_that_is_down(private_stack):
    folder, environ = private_stack
    app = webtest.TestApp(make_app(TEST_INI, environ=environ))
    assert app.get("/api/v1/health").status_int == 200

    stop(folder, "memcached.pid")
    assert down_components(app.get("/api/v1/health", status=503)) == {"memcached"}

    stop(folder, "weed.pid")
    assert down_components(app.get("/api/v1/health", status=503)) == {"memcached", "storage"}

    stop_postgres(folder)
    assert down_components(app.get("/api/v1/health", status=503)) == {
        "memcached",
        "storage",
        "database",
    }
