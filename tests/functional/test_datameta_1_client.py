"""DataMeta 1.x's published client (`datameta-client` 1.0.1 on `datameta-client-lib` 1.4.0)
drives its whole workflow against a live server.

The client lives in a venv of its own (`.venv-client/`, made once and reused), as its
users install it. It reads DATAMETA_URL and DATAMETA_TOKEN, and prints JSON on stdout
(progress goes to stderr). 1.x clients upload their bytes to the app, so the server
here answers upload URLs of the app (`datameta.files.upload_via_app`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from datameta import configure
from tests.conftest import ROOT, TEST_INI, serving
from tests.factories import make_api_key, make_user

CLIENT_REQUIREMENTS = ("datameta-client==1.0.1", "datameta-client-lib==1.4.0")
CLIENT_VENV = Path(ROOT) / ".venv-client"
LIB_CALLS = Path(__file__).with_name("client_lib_calls.py")

COLUMNS = [
    # name, regExp, dateTimeFmt, isFile, isMandatory, isSiteUnique
    ("SampleId", "S[0-9]+", "", False, True, True),
    ("Date", "", "%Y-%m-%d", False, False, False),
    ("ReadsR1", "", "", True, False, False),
]


@pytest.fixture(scope="session")
def client_venv() -> Path:
    """The client's venv; made (a minute or so, from PyPI) only when missing or outdated."""
    stamp = CLIENT_VENV / ".installed"
    wanted = "\n".join(CLIENT_REQUIREMENTS)
    if not (stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CLIENT_VENV)], check=True)
        subprocess.run(
            [
                str(CLIENT_VENV / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                *CLIENT_REQUIREMENTS,
            ],
            check=True,
            timeout=900,
        )
        stamp.write_text(wanted)
    return CLIENT_VENV


@pytest.fixture(scope="module")
def server(dbengine) -> Iterator[str]:
    """A live app that answers upload URLs of its own, as DataMeta 1.x clients need."""
    ini = {**TEST_INI, "datameta.files.upload_via_app": "true"}
    with serving(configure(ini, dbengine=dbengine).make_wsgi_app()) as url:
        yield url


def define_columns(url: str, admin_key: str) -> None:
    for order, (name, regexp, fmt, isfile, mandatory, site_unique) in enumerate(COLUMNS):
        definition = {
            "name": name,
            "regexDescription": f"{name} as in the example" if regexp else "",
            "longDescription": "",
            "example": "",
            "regExp": regexp,
            "dateTimeFmt": fmt,
            "isMandatory": mandatory,
            "order": order,
            "isFile": isfile,
            "isSubmissionUnique": site_unique,
            "isSiteUnique": site_unique,
            "serviceId": "",
        }
        response = requests.post(
            f"{url}/api/v1/metadata",
            json=definition,
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text


class Client:
    """Runs `dmclient` and the client library as a user of DataMeta 1.x would."""

    def __init__(self, venv: Path, url: str, token: str, home: Path) -> None:
        self.venv = venv
        self.env = {
            "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
            "HOME": str(home),  # no ~/.dmclient.yaml of whoever runs the tests
            "DATAMETA_URL": url,
            "DATAMETA_TOKEN": token,
            "NO_COLOR": "1",
            "LANG": "C.UTF-8",
        }

    def run(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.venv / "bin" / "dmclient"), *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def json(self, *arguments: str) -> object:
        """What a command printed on stdout, which must be JSON."""
        return printed_json(self.run(*arguments))

    def lib(self, *arguments: str) -> object:
        """A call of the client library the command has no command for (client_lib_calls.py)."""
        completed = subprocess.run(
            [str(self.venv / "bin" / "python"), str(LIB_CALLS), *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return printed_json(completed)


def printed_json(completed: subprocess.CompletedProcess) -> object:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    try:
        return json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not JSON:\n{completed.stdout}\nstderr:\n{completed.stderr}")


def download(client: Client, file_id: str) -> bytes:
    answer = client.json("files", "download-url", file_id)
    response = requests.get(answer["file_url"], timeout=30)
    assert response.status_code == 200, response.text
    return response.content


@pytest.fixture
def client(client_venv, server, committed_db, tmp_path) -> Client:
    admin = make_user(committed_db, site_admin=True)
    submitter = make_user(committed_db)
    admin_key = make_api_key(committed_db, admin)
    key = make_api_key(committed_db, submitter)
    committed_db.commit()
    define_columns(server, admin_key)
    return Client(client_venv, server, key, tmp_path)


def test_the_datameta_1_client_runs_its_whole_workflow(client, tmp_path):
    assert client.lib("server-info")["api_version"].startswith("1.")
    me = client.lib("whoami")
    assert me["site_admin"] is False
    user = client.json("users", "get-user", me["id"]["site"])
    assert user["id"] == me["id"]
    group = client.json("groups", "get-group", me["group"]["id"]["uuid"])
    assert group["name"] == me["group"]["name"]

    # Records from a JSON file and from a JSON string; an invalid one is refused.
    record_file = tmp_path / "record.json"
    record_file.write_text(json.dumps({"SampleId": "S1", "Date": "2021-03-04", "ReadsR1": "a.fq"}))
    first = client.json("metadatasets", "stage", str(record_file))
    assert first["record"] == {"SampleId": "S1", "Date": "2021-03-04T00:00:00", "ReadsR1": "a.fq"}
    second = client.json("metadatasets", "stage", '{"SampleId": "S2", "ReadsR1": "b.fq"}')
    assert second["submission_id"] is None
    refused = client.run("metadatasets", "stage", '{"SampleId": "X1", "Date": "4.3."}')
    assert refused.returncode != 0
    assert "400" in refused.stderr
    assert refused.stdout == ""

    # Files go through the app; pre-validation names what is missing.
    contents = {"a.fq": b"ACGT" * 50_000, "b.fq": b"TTGCA\n" * 1000}
    files = {}
    for name, content in contents.items():
        (tmp_path / name).write_bytes(content)
        staged = client.json("files", "stage", str(tmp_path / name))
        assert staged["content_uploaded"] is True
        assert staged["checksum"] == hashlib.md5(content).hexdigest()  # noqa: S324
        assert staged["filesize"] == len(content)
        files[name] = staged["id"]
    set_ids = f"{first['id']['site']},{second['id']['uuid']}"
    assert client.json("submissions", "prevalidate", set_ids, files["a.fq"]["site"]) is False
    all_files = f"{files['a.fq']['site']},{files['b.fq']['uuid']}"
    assert client.json("submissions", "prevalidate", set_ids, all_files) is True

    submission = client.json("submissions", "submit", set_ids, all_files, "--label", "run 1")
    assert submission["label"] == "run 1"
    assert {i["site"] for i in submission["metadataset_ids"]} == {
        first["id"]["site"],
        second["id"]["site"],
    }
    listed = client.lib("group-submissions", me["group"]["id"]["site"])
    assert [s["id"] for s in listed] == [submission["id"]]

    # GETs show dates in the column's format, as DataMeta 1.1.1 does. The client turns
    # "2021-03-04" into a datetime.date that its printing cannot render as JSON, so it
    # prints Python's repr instead: its users see the same against DataMeta 1.1.1.
    found = client.run("metadatasets", "search", "--submitted-after", "2000-01-01")
    assert found.returncode == 0, found.stderr
    assert "'Date': datetime.date(2021, 3, 4)" in found.stdout
    assert first["id"]["site"] in found.stdout and second["id"]["site"] in found.stdout
    assert client.json("metadatasets", "search", "--submitted-before", "2000-01-01") == []
    shown = client.lib("metadataset", second["id"]["site"])
    assert shown["record"] == {"SampleId": "S2", "Date": None, "ReadsR1": "b.fq"}
    assert shown["submission_id"] == submission["id"]
    assert shown["file_ids"]["ReadsR1"] == files["b.fq"]
    assert client.lib("file", files["b.fq"]["site"])["name"] == "b.fq"

    assert download(client, files["a.fq"]["uuid"]) == contents["a.fq"]
    assert download(client, files["b.fq"]["site"]) == contents["b.fq"]


def test_the_shortcut_stages_and_submits_in_one_go(client, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    content = b"GATTACA" * 10_000
    (data / "c.fq").write_bytes(content)
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"SampleId": "S3", "Date": "2022-12-31", "ReadsR1": "c.fq"}]))
    completed = client.run("shortcuts", "stage-and-submit", str(records), str(data))
    assert completed.returncode == 0, completed.stderr
    # The shortcut prints the staged sets, the staged files and the submission in turn;
    # the submission twice (the client's submit step prints although told to be quiet).
    decoder = json.JSONDecoder()
    printed, position, text = [], 0, completed.stdout
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        value, position = decoder.raw_decode(text, position)
        printed.append(value)
    staged_sets, staged_files, submission, again = printed
    assert again == submission
    assert staged_sets[0]["record"]["Date"] == "2022-12-31T00:00:00"
    assert submission["file_ids"] == [staged_files[0]["id"]]
    assert download(client, staged_files[0]["id"]["site"]) == content
