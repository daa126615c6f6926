"""The command line: `datameta upload` resumes after an interruption, `datameta download`
checks every file's MD5 and resumes partial files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.factories import (
    PART,
    committed_submitter,
    make_api_key,
    make_user,
    settled_verification,
    stage,
    upload_file,
)
from tests.helpers import api_headers

DATAMETA = str(Path(sys.executable).parent / "datameta")


def run(live_server, key, *args, cwd, wait=True):
    env = {**os.environ, "DATAMETA_URL": live_server, "DATAMETA_TOKEN": key}
    command = [DATAMETA, *args]
    if not wait:
        return subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def user_key(committed_db):
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    return key


def held_parts(live_server, key, file_id):
    response = requests.get(
        f"{live_server}/api/v1/multipart-uploads/{file_id}", headers=api_headers(key), timeout=30
    )
    return response.json()["parts"] if response.status_code == 200 else None


def test_an_interrupted_upload_resumes_without_sending_the_stored_parts_again(
    live_server, live_app, user_key, worker, tmp_path
):
    data = tmp_path / "reads.bam"
    # 16 parts: one part in flight at a time gives the test time to interrupt.
    block = hashlib.sha256(b"seed").digest() * (PART // 32)
    data.write_bytes(block * 15 + b"tail")
    state = tmp_path / "state.json"
    process = run(
        live_server,
        user_key,
        "upload",
        "-q",
        "--jobs",
        "1",
        "--state",
        str(state),
        str(data),
        cwd=tmp_path,
        wait=False,
    )
    deadline = time.monotonic() + 120
    file_id = None
    while time.monotonic() < deadline:
        if file_id is None and state.exists():
            file_id = next(iter(json.loads(state.read_text()).values()))["uuid"]
        if file_id and len(held_parts(live_server, user_key, file_id) or []) >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "run the same command to resume" in stderr
    held = len(held_parts(live_server, user_key, file_id))
    assert 2 <= held < 16

    resumed = run(
        live_server, user_key, "upload", "-q", "--state", str(state), str(data), cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"sent {16 - held} part(s), {held} already uploaded" in resumed.stdout
    verification = settled_verification(live_app, user_key, file_id)
    assert verification["state"] == "verified"
    assert verification["checksum"] == hashlib.md5(data.read_bytes()).hexdigest()  # noqa: S324
    # Once done, running it again uploads nothing.
    again = run(
        live_server, user_key, "upload", "-q", "--state", str(state), str(data), cwd=tmp_path
    )
    assert again.returncode == 0
    assert "sent 0 part(s)" in again.stdout


@pytest.fixture
def submission(live_app, committed_db):
    key = committed_submitter(committed_db, live_app)
    contents = {f"S{n}.fq": f"@read{n}\nACGT\n".encode() * (1000 * n) for n in (1, 2, 3)}
    msets = [
        stage(live_app, key, {"SampleId": f"S{n}", "Reads": f"S{n}.fq"}).json for n in (1, 2, 3)
    ]
    files = [upload_file(live_app, key, name, content) for name, content in contents.items()]
    submitted = live_app.post_json(
        "/api/v1/submissions",
        {
            "metadatasetIds": [m["id"]["uuid"] for m in msets],
            "fileIds": [f["id"]["uuid"] for f in files],
            "label": None,
        },
        headers=api_headers(key),
    ).json
    return key, submitted["id"]["site"], contents


def test_a_submission_downloads_in_parallel_with_every_md5_checked(
    live_server, submission, tmp_path
):
    key, site_id, contents = submission
    out = tmp_path / "out"
    result = run(live_server, key, "download", "-q", site_id, "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("MD5 checked") == 3
    for name, content in contents.items():
        assert (out / name).read_bytes() == content


def test_a_partial_download_resumes_and_a_corrupted_one_is_refused(
    live_server, submission, tmp_path
):
    key, site_id, contents = submission
    out = tmp_path / "out"
    out.mkdir()
    (out / "S2.fq.part").write_bytes(contents["S2.fq"][:1000])  # resumed with a range request
    (out / "S3.fq.part").write_bytes(b"X" * 1000)  # corrupted: its MD5 cannot match
    result = run(live_server, key, "download", "-q", site_id, "-o", str(out), cwd=tmp_path)
    assert result.returncode == 1
    assert "S3.fq: MD5" in result.stderr
    assert (out / "S2.fq").read_bytes() == contents["S2.fq"]
    assert not (out / "S3.fq").exists() and not (out / "S3.fq.part").exists()
    again = run(live_server, key, "download", "-q", site_id, "-o", str(out), cwd=tmp_path)
    assert again.returncode == 0
    assert (out / "S3.fq").read_bytes() == contents["S3.fq"]


def test_a_file_uploaded_by_the_command_line_is_submitted_and_downloads_intact(
    live_server, live_app, committed_db, worker, tmp_path
):
    # The upload names no whole-file MD5 (S3 checks each part's, the site the list of
    # parts); the worker's MD5 becomes the file's checksum, which the download checks.
    key = committed_submitter(committed_db, live_app)
    data = tmp_path / "reads.bam"
    data.write_bytes(hashlib.sha256(b"round trip").digest() * (PART // 32) * 2 + b"tail")
    uploaded = run(live_server, key, "upload", "-q", str(data), cwd=tmp_path)
    assert uploaded.returncode == 0, uploaded.stderr
    file_id = uploaded.stdout.split("\t")[1]
    verification = settled_verification(live_app, key, file_id)
    assert verification["state"] == "verified"
    assert verification["checksum"] == hashlib.md5(data.read_bytes()).hexdigest()  # noqa: S324
    mset = stage(live_app, key, {"SampleId": "S1", "Reads": "reads.bam"}).json
    submitted = live_app.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [mset["id"]["uuid"]], "fileIds": [file_id], "label": None},
        headers=api_headers(key),
    ).json
    out = tmp_path / "out"
    downloaded = run(
        live_server, key, "download", "-q", submitted["id"]["site"], "-o", str(out), cwd=tmp_path
    )
    assert downloaded.returncode == 0, downloaded.stderr
    assert "MD5 checked" in downloaded.stdout
    assert (out / "reads.bam").read_bytes() == data.read_bytes()


def test_exit_codes_tell_scripts_what_happened(live_server, tmp_path):
    data = tmp_path / "reads.fq"
    data.write_bytes(b"ACGT")
    refused = run(live_server, "not-a-key", "upload", "-q", str(data), cwd=tmp_path)
    assert refused.returncode == 3
    assert "datameta upload:" in refused.stderr and "failed" not in refused.stderr
    refused = run(live_server, "not-a-key", "download", "-q", "DMS-00000001", cwd=tmp_path)
    assert refused.returncode == 3
    not_a_file = run(live_server, "not-a-key", "upload", "-q", str(tmp_path), cwd=tmp_path)
    assert not_a_file.returncode == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMETA_URL")}
    unset = subprocess.run([DATAMETA, "upload", "x"], env=env, capture_output=True, text=True)
    assert unset.returncode == 2
    assert "DATAMETA_URL" in unset.stderr
    helped = subprocess.run([DATAMETA, "download", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    assert "exit codes" in helped.stdout and "DATAMETA_TOKEN" in helped.stdout
