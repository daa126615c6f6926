"""The pages where submitted data is found (View, a submission, home) and the manifest API."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tests.factories import (
    DEFAULT_PASSWORD,
    define_sample_sheet,
    make_api_key,
    make_group,
    make_user,
    stage,
    upload_file,
)
from tests.helpers import api_headers, assert_api_error, login

READS = b"ACGT\n" * 100
UNKNOWN = "00000000-0000-4000-8000-000000005eed"


def test_the_view_page_needs_a_session(testapp):
    response = testapp.get("/view", status=(302, 303))
    assert "/login" in response.headers["Location"]


def test_the_view_page_is_a_client_of_the_api(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    page = testapp.get("/view")
    app = page.html.select_one("#view-app")
    assert app["data-api"] == "/api/v1"
    assert page.html.select_one("script[type=module]")["src"] == "/static/js/view/main.js"


@pytest.fixture
def lab(testapp, dbsession):
    """Alice of Alpha Lab submitted two records and a file; Bob is of another group."""
    admin = make_user(dbsession, site_admin=True)
    define_sample_sheet(testapp, make_api_key(dbsession, admin))
    alpha = make_group(dbsession, "Alpha Lab")
    alice = make_user(dbsession, group=alpha, fullname="Alice Anders")
    key = make_api_key(dbsession, alice)
    file = upload_file(testapp, key, "reads 1.fq", READS)
    ids = [
        stage(testapp, key, {"SampleId": "S1", "Reads": "reads 1.fq"}).json["id"]["site"],
        stage(testapp, key, {"SampleId": "S2"}).json["id"]["site"],
    ]
    submission = testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": ids, "fileIds": [file["id"]["site"]], "label": "first run"},
        headers=api_headers(key),
    ).json
    bob = make_user(dbsession, fullname="Bob Berg")
    reader = make_user(dbsession, site_read=True)
    return {
        "alice": alice,
        "key": key,
        "bob": bob,
        "bob_key": make_api_key(dbsession, bob),
        "reader_key": make_api_key(dbsession, reader),
        "file": file,
        "submission": submission,
    }


def manifest(testapp, key, submission_id, status=200, **params):
    return testapp.get(
        f"/api/v1/submissions/{submission_id}/manifest",
        params,
        headers=api_headers(key),
        status=status,
    )


@pytest.mark.parametrize("who", ["key", "reader_key"])
def test_a_manifest_names_each_file_with_a_working_download_url(testapp, lab, who):
    answer = manifest(testapp, lab[who], lab["submission"]["id"]["site"]).json
    assert answer["expiresMinutes"] == 60
    (entry,) = answer["files"]
    assert entry["id"] == lab["file"]["id"]
    assert (entry["name"], entry["size"], entry["md5"]) == (
        "reads 1.fq",
        len(READS),
        hashlib.md5(READS).hexdigest(),  # noqa: S324 (the announced checksum)
    )
    assert requests.get(entry["url"], timeout=30).content == READS


def test_a_manifest_as_tsv_and_md5_for_download_and_checksum_tools(testapp, lab):
    site_id = lab["submission"]["id"]["site"]
    tsv = manifest(testapp, lab["key"], site_id, format="tsv", expires=5)
    assert tsv.headers["Content-Disposition"] == f'attachment; filename="{site_id}-manifest.tsv"'
    header, line = tsv.text.splitlines()
    assert header.split("\t") == ["name", "size", "md5", "site_id", "url"]
    name, size, md5, file_id, url = line.split("\t")
    assert (name, size, file_id) == ("reads 1.fq", str(len(READS)), lab["file"]["id"]["site"])
    assert requests.get(url, timeout=30).content == READS
    sums = manifest(testapp, lab["key"], site_id, format="md5")
    assert sums.headers["Content-Disposition"] == f'attachment; filename="{site_id}.md5"'
    assert sums.text == f"{md5}  reads 1.fq\n"


@pytest.mark.parametrize("expires", ["0", "1441"])
def test_a_manifest_expiry_beyond_the_sites_limit_is_refused(testapp, lab, expires):
    response = manifest(
        testapp, lab["key"], lab["submission"]["id"]["site"], status=400, expires=expires
    )
    assert_api_error(response, 400, field="expires")


def test_another_groups_manifest_is_like_an_unknown_one(testapp, lab):
    outsider = manifest(testapp, lab["bob_key"], lab["submission"]["id"]["uuid"], status=404)
    unknown = manifest(testapp, lab["bob_key"], UNKNOWN, status=404)
    assert (
        outsider.json[0]["message"].replace(lab["submission"]["id"]["uuid"], UNKNOWN)
        == (unknown.json[0]["message"])
    )
    assert_api_error(testapp.get(f"/api/v1/submissions/{UNKNOWN}/manifest", status=401), 401)


def test_the_submission_page_by_uuid_or_site_id(testapp, lab):
    login(testapp, lab["alice"].email, DEFAULT_PASSWORD)
    for given in lab["submission"]["id"].values():
        page = testapp.get(f"/submissions/{given}")
        app = page.html.select_one("#submission-app")
        assert app["data-submission"] == lab["submission"]["id"]["site"]
        assert page.html.select_one("h1").text == "first run"


def test_another_groups_submission_page_is_not_found(testapp, lab):
    login(testapp, lab["bob"].email, DEFAULT_PASSWORD)
    testapp.get(f"/submissions/{lab['submission']['id']['site']}", status=404)
    testapp.get(f"/submissions/{UNKNOWN}", status=404)


def test_the_home_page_lists_the_groups_recent_submissions(testapp, lab):
    login(testapp, lab["alice"].email, DEFAULT_PASSWORD)
    row = testapp.get("/home").html.select_one("#recent-submissions tbody tr")
    cells = [cell.text.strip() for cell in row.select("td")]
    assert cells[0].startswith("first run")
    assert cells[2:] == ["2", "1"]
    assert row.select_one("a")["href"] == f"/submissions/{lab['submission']['id']['site']}"


def test_the_home_page_of_another_group_lists_none_of_them(testapp, lab):
    login(testapp, lab["bob"].email, DEFAULT_PASSWORD)
    page = testapp.get("/home").html
    assert page.select_one("#recent-submissions") is None
    assert page.select_one("#no-submissions") is not None
