"""The initialize_datameta_db command, run as an operator would."""

import os
import subprocess

from alembic import command

from tests.conftest import ROOT, alembic_config, fresh_database

COMMAND = os.path.join(ROOT, ".venv", "bin", "initialize_datameta_db")
ARGS = [
    "--initial-user-fullname",
    "Operator",
    "--initial-user-email",
    "operator@example.org",
    "--initial-user-pass",
    "Operator-Password-1",
    "--initial-group",
    "Operations",
]


def run(url, *extra):
    return subprocess.run(
        [COMMAND, "-c", os.path.join(ROOT, "development.ini"), *ARGS, *extra],
        env={**os.environ, "DATAMETA_SQLALCHEMY_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_creates_the_first_admin_once(test_database_url):
    url = fresh_database(test_database_url, "datameta_cli")
    command.upgrade(alembic_config(url), "head")

    first = run(url)
    assert first.returncode == 0, first.stderr
    assert "created site admin operator@example.org" in first.stdout

    second = run(url)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout


def test_a_missing_setting_stops_it_with_a_message(test_database_url):
    result = subprocess.run(
        [COMMAND, "-c", os.path.join(ROOT, "production.ini"), *ARGS],
        env={key: value for key, value in os.environ.items() if not key.startswith("DATAMETA_")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "DATAMETA_SESSION_SECRET" in result.stderr
