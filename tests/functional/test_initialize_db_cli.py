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


def test_replicas_starting_at_once_migrate_and_seed_one_after_the_other(test_database_url):
    # What every container of the image does at start: docker/entrypoint.sh.
    url = fresh_database(test_database_url, "datameta_replicas")
    env = {
        **os.environ,
        "PATH": os.path.join(ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"],
        "DATAMETA_SQLALCHEMY_URL": url,
        "DATAMETA_INI": "development.ini",
        "DATAMETA_INITIAL_EMAIL": "operator@example.org",
        "DATAMETA_INITIAL_PASS": "Operator-Password-1",
    }
    starts = [
        subprocess.Popen(
            [os.path.join(ROOT, "docker", "entrypoint.sh"), "true"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [start.communicate(timeout=120) for start in starts]

    assert [start.returncode for start in starts] == [0, 0, 0], [err for _, err in outputs]
    said = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert said == [
        "initialize_datameta_db: created site admin operator@example.org",
        "initialize_datameta_db: users exist already, nothing to do",
        "initialize_datameta_db: users exist already, nothing to do",
    ]
