"""The end-to-end script of the scripting user's path, run against a live server."""

import subprocess
import sys
from pathlib import Path

from tests.factories import DEFAULT_PASSWORD, make_user

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "e2e_api.py"


def test_the_end_to_end_script_passes(live_server, committed_db):
    admin = make_user(committed_db, site_admin=True, email="e2e-admin@example.org")
    committed_db.commit()
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--url",
            live_server,
            "--email",
            admin.email,
            "--password",
            DEFAULT_PASSWORD,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "end-to-end run passed" in result.stdout
