"""Assertions and shortcuts that read well in tests."""

from __future__ import annotations

import functools
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any

import webtest

ERROR_KEYS = {"exception", "error_code", "message", "entity", "field"}
# DataMeta's published Error schema: only these are always there, and no value is ever null.
ALWAYS_KEYS = {"exception", "message"}


def assert_api_error(
    response: Any,
    status: int,
    exception: str | None = None,
    *,
    field: str | None = None,
    message: str | None = None,
) -> list[dict[str, Any]]:
    """Assert ``response`` is DataMeta's error list with ``status``; return its items.

    With ``exception``, ``field`` or ``message``, some item must match all given ones.
    """
    assert response.status_int == status, f"expected {status}, got {response.status}"
    assert response.content_type == "application/json"
    items = response.json
    assert isinstance(items, list) and items, f"not an error list: {items!r}"
    for item in items:
        assert ALWAYS_KEYS <= set(item) <= ERROR_KEYS, f"error item has keys {sorted(item)}"
        assert None not in item.values(), f"error item with a null: {item}"
        assert isinstance(item["message"], str) and item["message"]
    wanted = {"exception": exception, "field": field, "message": message}
    wanted = {key: value for key, value in wanted.items() if value is not None}
    if wanted:
        assert any(
            all(item.get(key) == value for key, value in wanted.items()) for item in items
        ), f"no error item matches {wanted}: {items}"
    return items


def client_in_transaction(
    wsgi_app: Any, tm: Any, dbsession: Any, *, host: str = "localhost"
) -> webtest.TestApp:
    """A client of ``wsgi_app`` whose requests join the test's transaction and DB session.

    Each such client keeps its own cookies: two of them are two browsers.
    """
    environ = {"HTTP_HOST": host, "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession}
    return webtest.TestApp(wsgi_app, extra_environ=environ)


def request_statements(statements: list[str]) -> list[str]:
    """The statements of requests made by ``client_in_transaction``, less the savepoint
    in which the express lane works inside the transaction the test hands in."""
    return [statement for statement in statements if "SAVEPOINT" not in statement]


def committing_client(wsgi_app: Any, **environ: str) -> webtest.TestApp:
    """A client of ``wsgi_app`` with real transactions: each request commits or aborts."""
    return webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost", **environ})


def api_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}


def csrf_token(testapp: Any) -> str:
    """The CSRF token of the test client's current session (opening a page creates one)."""
    page = testapp.get("/login")
    return page.html.find("input", {"name": "csrf_token"})["value"]


def login(testapp: Any, email: str, password: str, *, status: int = 302) -> Any:
    """Log in through the login form (fields email, password, csrf_token)."""
    form_page = testapp.get("/login")
    token = form_page.html.find("input", {"name": "csrf_token"})["value"]
    return testapp.post(
        "/login", {"email": email, "password": password, "csrf_token": token}, status=status
    )


@functools.cache
def registration_form(client: Any, **fields: str) -> Any:
    """The registration page's form, filled in with ``fields``."""
    form = client.get("/register").forms["register-form"]
    for name, value in fields.items():
        form[name] = value
    return form


def _openapi() -> Any:
    from openapi_core import OpenAPI

    from datameta.api import SPEC_PATH

    return OpenAPI.from_file_path(SPEC_PATH)


def assert_matches_spec(response: Any, method: str, path: str) -> None:
    """Check a response of a view the OpenAPI layer does not validate by itself."""
    from openapi_core.testing import MockRequest, MockResponse

    request = MockRequest("http://localhost", method.lower(), path)
    mock = MockResponse(
        response.body, status_code=response.status_int, content_type=response.content_type
    )
    _openapi().validate_response(request, mock)


class PrivateStack:
    """A service stack of a test's own (scripts/stack.sh), whose services it may stop.

    Outage tests use it so that the stack the other tests share is never disturbed.
    """

    ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    SCRIPT = os.path.join(ROOT, "scripts", "stack.sh")
    PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"

    def __init__(self, port_base: int, prefix: str = "datameta-stack-") -> None:
        self.port_base = port_base
        self.folder = tempfile.mkdtemp(prefix=prefix)

    def up(self) -> None:
        """Start every service that is not running (all of them, the first time)."""
        environ = {**os.environ, "STACK_FAST": "1"}
        command = [self.SCRIPT, "up", self.folder, str(self.port_base)]
        subprocess.run(command, check=True, env=environ)

    def down(self) -> None:
        subprocess.run([self.SCRIPT, "down", self.folder], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def environ(self) -> dict[str, str]:
        """The DATAMETA_* settings that point the app at this stack."""
        environ = {}
        with open(os.path.join(self.folder, "env.sh")) as env_file:
            for line in env_file:
                name, _, value = line.removeprefix("export ").strip().partition("=")
                environ[name] = value
        return environ

    def pid(self, service: str) -> int:
        with open(os.path.join(self.folder, f"{service}.pid")) as handle:
            return int(handle.read())

    def freeze(self, service: str) -> None:
        """Suspend a service (SIGSTOP): it accepts connections but answers nothing."""
        os.kill(self.pid(service), signal.SIGSTOP)

    def thaw(self, service: str) -> None:
        os.kill(self.pid(service), signal.SIGCONT)

    def stop(self, service: str) -> None:
        """Stop ``memcached`` or ``weed`` (S3), as an outage would."""
        pid = self.pid(service)
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):  # not our child process, so wait by polling
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        if service == "weed":  # killed SeaweedFS leaves sockets that block its restart
            for offset in (12, 14, 16, 17, 19):
                # Where SeaweedFS puts them, as scripts/stack.sh down knows too.
                pattern = f"/tmp/seaweedfs-*-grpc-{self.port_base + offset}.sock"  # noqa: S108
                for path in glob.glob(pattern):
                    os.remove(path)

    def stop_postgres(self, mode: str = "immediate") -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        data = os.path.join(self.folder, "pg", "data")
        subprocess.run(
            [*as_postgres, self.PG_CTL, "-D", data, "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
        )


def log_in_page(page: Any, email: str, password: str) -> None:
    """Log in through the browser's login form and wait for the home page."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")
