"""Serving as production does: several worker processes, any of which serves any request.

Sessions live in memcached and API keys in PostgreSQL, so what one process starts
another continues. The servers here are real `pserve production.ini` processes
(granian, datameta/serving.py).
"""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
from bs4 import BeautifulSoup

from tests.conftest import ROOT, TEST_INI, free_port
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_user

PSERVE = Path(sys.executable).parent / "pserve"


def worker_processes(pid: int) -> list[int]:
    """The child processes of ``pid`` (the server's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()]


@contextmanager
def production_server(workers: int, **settings: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`pserve production.ini` on a free port over the test database; its URL and process.

    ``settings`` are further environment variables, such as ``DATAMETA_LIMITS_...``.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {
        **os.environ,
        "DATAMETA_SESSION_SECRET": TEST_INI["datameta.session.secret"],
        "DATAMETA_PUBLIC_URL": url,
        # Plain HTTP here: a secure cookie would never come back.
        "DATAMETA_SESSION_COOKIE_SECURE": "false",
        **settings,
    }
    command = [str(PSERVE), "production.ini", f"http_bind=127.0.0.1:{port}"]
    command.append(f"http_workers={workers}")
    server = subprocess.Popen(command, cwd=ROOT, env=environ, stderr=subprocess.PIPE)
    try:
        wait_until_serving(url, server)
        yield url, server
    finally:
        server.terminate()
        server.wait(30)


def wait_until_serving(url: str, server: subprocess.Popen) -> None:
    # Generous: starting workers on a busy machine takes a while; nothing here is timed.
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if server.poll() is not None:
            pytest.fail(f"pserve exited: {server.stderr.read().decode()[-2000:]}")
        try:
            requests.get(f"{url}/api/v1/server", timeout=5)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    pytest.fail("pserve did not start serving")


def log_in(url: str, email: str) -> requests.Session:
    client = requests.Session()
    page = client.get(f"{url}/login", timeout=30)
    token = BeautifulSoup(page.text, "html.parser").find("input", {"name": "csrf_token"})["value"]
    answer = client.post(
        f"{url}/login",
        {"email": email, "password": DEFAULT_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302
    return client


def whoami(url: str, **options: object) -> requests.Response:
    return requests.get(f"{url}/api/v1/rpc/whoami", timeout=30, **options)  # type: ignore[arg-type]


def test_production_ini_serves_with_several_workers() -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(Path(ROOT) / "production.ini")
    assert ini["server:main"]["use"] == "egg:datameta#granian"
    assert ini["server:container"]["use"] == "egg:datameta#granian"
    assert int(ini.defaults()["http_workers"]) >= 2


def test_make_run_serves_the_same_way() -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(Path(ROOT) / "development.ini")
    assert ini["server:main"]["use"] == "egg:datameta#granian"
    assert int(ini.defaults()["http_workers"]) >= 2


def test_a_session_and_an_api_key_work_in_every_process(committed_db) -> None:
    user = make_user(committed_db)
    email = user.email
    committed_db.commit()
    with ExitStack() as servers:
        first, main = servers.enter_context(production_server(workers=2))
        other, _ = servers.enter_context(production_server(workers=1))
        assert len(worker_processes(main.pid)) == 2

        client = log_in(first, email)
        assert client.get(f"{other}/api/v1/rpc/whoami", timeout=30).json()["email"] == email

        key = requests.post(
            f"{other}/api/v1/keys",
            json={"email": email, "password": DEFAULT_PASSWORD, "label": "from the other"},
            timeout=30,
        ).json()["token"]
        answer = whoami(first, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        assert answer.json()["email"] == email

        # Logging out in one process ends the session in all of them.
        page = client.get(f"{other}/submit", timeout=30)
        token = BeautifulSoup(page.text, "html.parser").find("input", {"name": "csrf_token"})
        client.post(f"{other}/logout", {"csrf_token": token["value"]}, timeout=30)
        assert client.get(f"{first}/api/v1/rpc/whoami", timeout=30).status_code == 401


def test_the_local_proxy_tells_the_scheme_and_the_client_its_requests_came_from():
    with production_server(workers=1) as (url, _):
        answer = requests.get(
            f"{url}/",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("https://")


JSON = {"Content-Type": "application/json"}


def chunks(size: int, count: int) -> Iterator[bytes]:
    for _ in range(count):
        yield b"x" * size


def test_a_streamed_body_over_the_limit_is_refused_and_one_within_it_read():
    limit = {"DATAMETA_LIMITS_MAX_BODY_BYTES": "65536"}
    with production_server(workers=1, **limit) as (url, _):
        # Without a Content-Length (chunked): refused once it passes the limit.
        answer = requests.post(
            f"{url}/api/v1/metadatasets", data=chunks(8192, 64), headers=JSON, timeout=30
        )
        assert answer.status_code == 413
        answer = requests.post(
            f"{url}/api/v1/metadatasets", data=chunks(1024, 4), headers=JSON, timeout=30
        )
        # Read whole, and refused for what it says (no key), not for its size.
        assert answer.status_code in {400, 401}


def slow_chunks(started: threading.Event) -> Iterator[bytes]:
    started.set()
    for _ in range(4):
        time.sleep(0.5)
        yield b" "


def test_sigterm_lets_a_request_in_progress_finish_then_stops_the_workers():
    with production_server(workers=2) as (url, server):
        workers = worker_processes(server.pid)
        started = threading.Event()
        answers: list[int] = []

        def slow_request() -> None:
            answer = requests.post(
                f"{url}/api/v1/metadatasets", data=slow_chunks(started), headers=JSON, timeout=30
            )
            answers.append(answer.status_code)

        client = threading.Thread(target=slow_request)
        client.start()
        started.wait(10)
        time.sleep(0.5)
        server.terminate()
        client.join(30)
        # Answered (refused for what it is, not cut off), though the stop came first.
        assert answers and answers[0] in {400, 401}
        assert server.wait(60) == 0
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists()


def peak_memory_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def test_file_content_posted_through_the_app_streams_to_s3_in_flat_memory(committed_db):
    """A DataMeta 1.x client's file, sent without a length, is never held whole."""
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    chunk, count = bytes(range(256)) * 4096, 160  # 160 MiB in chunks of 1 MiB
    checksum = hashlib.md5(chunk * count).hexdigest()  # noqa: S324
    with production_server(workers=1, DATAMETA_FILES_UPLOAD_VIA_APP="true") as (url, server):
        (worker,) = worker_processes(server.pid)
        announced = requests.post(
            f"{url}/api/v1/files",
            json={"name": "big.fq", "checksum": checksum},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).json()
        before = peak_memory_kib(worker)
        answer = requests.put(
            announced["urlToUpload"],
            data=(chunk for _ in range(count)),
            headers={**announced["requestHeaders"], "Content-Type": "application/octet-stream"},
            timeout=120,
        )
        assert answer.status_code == 204
        # The app's part buffers for S3 take about 50 MiB, however large the file.
        assert peak_memory_kib(worker) - before < 80 * 1024
