"""Property-based fuzzing of the whole API against its own OpenAPI document.

Schemathesis generates requests from /api/v1/openapi.yaml (valid and invalid ones,
and chains of calls along the document's links, so that created ids are used
again) and sends them to the app over real HTTP, as a site admin and anonymously.
Every answer must be no server error and exactly what the document says: status
code, content type and body schema. The generation is derandomized, so every run
sends the same cases; a finding becomes a focused regression test of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.factories import make_api_key, make_user

REPORT_DIR = Path(__file__).resolve().parents[2] / "test-output"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
# Operations that could lock the fuzzing admin out of the run (its own password, TOTP
# secret, rights or account). They are covered by their own tests: PUT
# /users/{id}/password in test_password_reset.py, DELETE /users/{id}/totp-secret in
# test_totp.py, PUT /users/{id} (disabling, demoting) in test_users_api.py.
LOCKOUT_OPERATIONS = ["SetUserPassword", "DeleteTotpToken", "UserUpdateRequest"]
MAX_EXAMPLES = int(os.environ.get("DATAMETA_FUZZ_EXAMPLES", "5"))


def run_schemathesis(
    schema: str,
    base_url: str,
    *extra: str,
    checks: list[str] = CHECKS,
    max_examples: int = MAX_EXAMPLES,
    phases: str = "coverage,fuzzing,stateful",
) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        schema,
        "--url",
        base_url,
        "--checks",
        ",".join(checks),
        # Derandomized: the same cases every run (a seed is not used in this mode).
        "--generation-deterministic",
        "--max-examples",
        str(max_examples),
        "--phases",
        phases,
        "--workers",
        "1",
        "--no-color",
        "--suppress-health-check",
        "all",
        *(arg for op in LOCKOUT_OPERATIONS for arg in ("--exclude-operation-id", op)),
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def committed_admin_key(committed_db) -> str:
    admin = make_user(committed_db, site_admin=True, email="fuzz-admin@example.org")
    key = make_api_key(committed_db, admin, label="fuzzing")
    committed_db.commit()
    return key


def assert_passed(result: subprocess.CompletedProcess, name: str) -> None:
    report = REPORT_DIR / f"fuzz-{name}.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (
        f"see {report}\n" + result.stdout[-20000:] + result.stderr[-5000:]
    )


def test_every_answer_is_what_our_document_says_to_a_site_admin(live_server, committed_admin_key):
    result = run_schemathesis(
        f"{live_server}/api/v1/openapi.yaml",
        f"{live_server}/api/v1",
        "--header",
        f"Authorization: Bearer {committed_admin_key}",
    )
    assert_passed(result, "site-admin")


def test_every_answer_is_what_our_document_says_to_anybody(live_server, clean_database):
    # Nothing is created anonymously, so there are no chains of calls to follow, and
    # most answers are 401: a few cases per operation suffice.
    result = run_schemathesis(
        f"{live_server}/api/v1/openapi.yaml",
        f"{live_server}/api/v1",
        max_examples=5,
        phases="fuzzing",
    )
    assert_passed(result, "anonymous")


# DataMeta 1.1.1's published document (datameta/api/openapi.yaml in its wheel), which
# DataMeta 1.x clients are generated from. It is not part of this repository: the test
# fetches the wheel from PyPI once into a cache folder (or takes the file named by
# DATAMETA_FUZZ_PUBLISHED_SPEC); a failed fetch fails the test rather than skipping
# it, so the check cannot go missing unnoticed. Only server errors and answers that
# break its schemas count: its status codes may differ where we answer JSON error
# lists (404, 401) where DataMeta 1.1.1 answered HTML pages, which its generated
# client treats alike.
PUBLISHED_VERSION = "1.1.1"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "datameta-tests"


@pytest.fixture(scope="session")
def published_spec(tmp_path_factory) -> Path:
    if given := os.environ.get("DATAMETA_FUZZ_PUBLISHED_SPEC"):
        return Path(given)
    cached = CACHE_DIR / f"datameta-{PUBLISHED_VERSION}-openapi.yaml"
    if not cached.exists():
        download = tmp_path_factory.mktemp("published")
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest",
             str(download), f"datameta=={PUBLISHED_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        wheels = list(download.glob("*.whl"))
        if fetched.returncode != 0 or not wheels:
            pytest.fail(f"cannot fetch datameta {PUBLISHED_VERSION}: {fetched.stderr[-500:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            document = wheel.read("datameta/api/openapi.yaml")
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(document)
    return cached


def test_every_answer_fits_the_published_datameta_1_document(
    live_server, committed_admin_key, published_spec
):
    result = run_schemathesis(
        str(published_spec),
        f"{live_server}/api/v1",
        "--header",
        f"Authorization: Bearer {committed_admin_key}",
        checks=["not_a_server_error", "response_schema_conformance"],
        phases="fuzzing",
    )
    assert_passed(result, f"published-{PUBLISHED_VERSION}")
