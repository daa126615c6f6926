"""Fixtures shared by all tests.

Unit tests need none of these. Integration and functional tests run against the
real services that `make test` starts (PostgreSQL, memcached, S3, SMTP sink) and
find through the DATAMETA_* variables it exports. Each test runs inside a
transaction that is rolled back afterwards, so tests do not see each other.
"""

from __future__ import annotations

import email
import email.policy
import mailbox as mailbox_module
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2.errors
import pytest
import sqlalchemy as sa
import transaction
import webtest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from waitress.server import create_server

from datameta import make_app
from datameta.config import Settings, parse_settings
from datameta.db import get_tm_session, make_engine
from datameta.mail import Mailer, make_message
from tests.factories import make_api_key, make_user
from tests.helpers import client_in_transaction, committing_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Settings the stack does not provide; everything else comes from its DATAMETA_* variables.
TEST_INI = {
    "datameta.session.secret": "test-secret-that-is-long-enough-0123456789",
    "datameta.session.cookie_secure": "false",
    # Links in mails lead to whichever address a test serves the app at.
    "datameta.links_from_request": "true",
    "retry.attempts": "3",
}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Name the seed of the random test order (pytest-randomly), so a failure can be replayed."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(
            f"Tests ran in random order; replay it with: make test PYTEST_ARGS='"
            f"--randomly-seed={seed}'"
        )


def _require_stack() -> None:
    if "DATAMETA_SQLALCHEMY_URL" not in os.environ:
        pytest.exit(
            "The integration and functional tests need the service stack: run `make test`.",
            returncode=2,
        )


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig(os.path.join(ROOT, "alembic.ini"))
    config.set_main_option("script_location", os.path.join(ROOT, "migrations"))
    config.attributes["database_url"] = url
    return config


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (connecting to 'postgres' to do so)."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def fresh_database(test_database_url: str, name: str) -> str:
    """The URL of an empty database ``name`` beside the test database, made anew."""
    url = make_url(test_database_url).set(database=name).render_as_string(hide_password=False)
    recreate_database(url)
    return url


@pytest.fixture(scope="session")
def test_database_url() -> Iterator[str]:
    """A database of its own for the test run, so that no other data is ever touched."""
    _require_stack()
    stack_url = make_url(os.environ["DATAMETA_SQLALCHEMY_URL"])
    url = stack_url.set(database=f"{stack_url.database}_tests").render_as_string(
        hide_password=False
    )
    recreate_database(url)
    previous = os.environ["DATAMETA_SQLALCHEMY_URL"]
    os.environ["DATAMETA_SQLALCHEMY_URL"] = url
    command.upgrade(alembic_config(url), "head")
    yield url
    os.environ["DATAMETA_SQLALCHEMY_URL"] = previous


@pytest.fixture(scope="session")
def settings(test_database_url: str) -> Settings:
    return parse_settings(TEST_INI)


@pytest.fixture(scope="session")
def dbengine(settings: Settings) -> Iterator[sa.Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, dbengine: sa.Engine):
    return make_app(TEST_INI, dbengine=dbengine)


@pytest.fixture
def tm() -> Iterator[transaction.TransactionManager]:
    """The test's transaction: doomed, so whatever the test writes is rolled back."""
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    yield manager
    manager.abort()


@pytest.fixture
def dbsession(app, tm: transaction.TransactionManager) -> Session:
    return get_tm_session(app.registry["dbsession_factory"], tm)


@pytest.fixture
def testapp(app, tm: transaction.TransactionManager, dbsession: Session) -> webtest.TestApp:
    """The app over HTTP, sharing the test's transaction and DB session."""
    return client_in_transaction(app, tm, dbsession)


@pytest.fixture
def admin_key(dbsession: Session) -> str:
    """The API key of a site admin."""
    return make_api_key(dbsession, make_user(dbsession, site_admin=True))


@pytest.fixture
def user_key(dbsession: Session) -> str:
    """The API key of a user without special rights."""
    return make_api_key(dbsession, make_user(dbsession))


# Tests that need real commits: mail goes out only after a commit, and a browser
# talks to a server in another thread. They use `live_app`/`committed_db` and the
# data they make is wiped afterwards.

KEPT_TABLES = {"alembic_version", "appsettings", "metadata_version"}


@pytest.fixture(scope="session")
def app_settings_snapshot(dbengine: sa.Engine) -> list[dict]:
    with dbengine.connect() as connection:
        return [
            dict(row._mapping) for row in connection.execute(sa.text("SELECT * FROM appsettings"))
        ]


@pytest.fixture
def clean_database(dbengine: sa.Engine, app_settings_snapshot: list[dict]) -> Iterator[None]:
    """After the test: empty every data table and restore the application settings."""
    yield
    # The worker (or a request the browser sent last) may still be reading the
    # tables; when the TRUNCATE's locks and theirs meet in a deadlock, PostgreSQL
    # aborts the TRUNCATE, which is then tried again once the other has finished.
    for attempt in range(5):
        try:
            _empty_data_tables(dbengine, app_settings_snapshot)
            return
        except sa.exc.OperationalError as error:
            if not isinstance(error.orig, psycopg2.errors.DeadlockDetected) or attempt == 4:
                raise
            time.sleep(0.2)


def _empty_data_tables(dbengine: sa.Engine, app_settings_snapshot: list[dict]) -> None:
    with dbengine.begin() as connection:
        # The job queue's tables stay: a running worker is registered there, and a
        # job left over finds its file gone and does nothing.
        tables = [
            name
            for name in sa.inspect(connection).get_table_names()
            if name not in KEPT_TABLES and not name.startswith("procrastinate_")
        ]
        connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        connection.execute(sa.text("DELETE FROM appsettings"))
        appsettings = sa.table("appsettings", *(sa.column(k) for k in app_settings_snapshot[0]))
        connection.execute(sa.insert(appsettings), app_settings_snapshot)


@pytest.fixture
def committed_db(app, clean_database) -> Iterator[Session]:
    """A DB session whose ``commit()`` really commits (wiped after the test)."""
    session = app.registry["dbsession_factory"]()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def live_app(app, clean_database) -> webtest.TestApp:
    """The app over HTTP with real transactions: each request commits or aborts."""
    return committing_client(app)


class Mailbox:
    """The mails the SMTP sink received during one test."""

    MARKER_ADDRESS = "mailbox.marker@example.org"

    def __init__(self, path: str, mailer: Mailer) -> None:
        self.maildir = mailbox_module.Maildir(path, create=True)
        self.mailer = mailer
        self.seen = set(self.maildir.keys())

    def settle(self, wait_seconds: float = 10.0) -> None:
        """Return once every mail the app has sent so far is in the sink.

        A marker mail goes out through the app's mailer after them, and mail is
        delivered in order; once the marker is here, a mail that is still missing
        was never sent. Tests that expect no mail call this before saying so.
        """
        subject = f"marker {uuid.uuid4()}"
        self.mailer.send(make_message(to=[self.MARKER_ADDRESS], subject=subject, body="marker"))
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            for key in set(self.maildir.keys()) - self.seen:
                message = email.message_from_bytes(self.maildir.get_bytes(key))
                if message["Subject"] == subject:
                    self.seen.add(key)
                    return
            time.sleep(0.02)
        raise AssertionError(f"the marker mail did not arrive within {wait_seconds} s")

    def received(self, address: str | None = None) -> list:
        """The mails sent so far (only those to ``address``, if given), once all have arrived."""
        self.settle()
        return self.messages() if address is None else self.to(address)

    def messages(self) -> list:
        return [
            email.message_from_bytes(self.maildir.get_bytes(key), policy=email.policy.default)
            for key in self.maildir.keys()  # noqa: SIM118 (a Maildir, not a dict)
            if key not in self.seen
        ]

    def to(self, address: str) -> list:
        """Messages delivered to ``address`` (the sink records every recipient in X-RcptTo)."""
        return [
            message
            for message in self.messages()
            if address.lower() in str(message.get("X-RcptTo", "")).lower()
        ]

    def body(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def mailbox(app) -> Mailbox:
    _require_stack()
    return Mailbox(os.environ["DATAMETA_STACK_MAILDIR"], app.registry["mailer"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(wsgi_app, **options: str) -> Iterator[str]:
    """``wsgi_app`` at http://127.0.0.1:<port>, served by waitress in a background thread.

    ``options`` are further waitress settings (such as which proxies to trust).
    """
    port = free_port()
    server = create_server(wsgi_app, host="127.0.0.1", port=port, threads=4, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The app served over real HTTP (for scripts and the browser)."""
    with serving(app) as url:
        yield url


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def worker(test_database_url: str) -> Iterator[subprocess.Popen]:
    """The background worker (``datameta-worker``) on the test database, as ``make run`` runs it.

    Started by the first test that needs it, stopped (SIGTERM, graceful) after the run.
    """
    _require_stack()
    log = open(Path(os.environ["DATAMETA_STACK_DIR"]) / "worker.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "datameta-worker"), "-c", "development.ini"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DATAMETA_SQLALCHEMY_URL": test_database_url},
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
