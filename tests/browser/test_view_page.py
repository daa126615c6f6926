"""The View page in a real browser: find, filter, sort, page, reload, export, download.

A lab has submitted 31 records, one with a data file. Its member searches,
filters a column, sorts, pages, reloads and sees the same view, exports each
format and parses it, and downloads the file to compare its bytes.
Screenshots of every step land in test-output/screenshots/.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.factories import (
    DEFAULT_PASSWORD,
    define_sample_sheet,
    make_api_key,
    make_group,
    make_user,
    stage,
    upload_file,
)
from tests.helpers import api_headers, log_in_page

pytestmark = pytest.mark.browser

READS = b"@read\nACGTACGT\n+\nIIIIIIII\n" * 7


@pytest.fixture
def lab(committed_db, live_app):
    """31 submitted records of Sequencing Lab: S1..S30 from a sheet, S100 with a file."""
    group = make_group(committed_db, "Sequencing Lab")
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    member = make_user(committed_db, group=group, email="member@example.org", fullname="Mia Member")
    key = make_api_key(committed_db, member)
    committed_db.commit()
    define_sample_sheet(live_app, admin_key)
    sheet = "SampleId,Date,Reads\n" + "".join(f"S{n},2024-01-{n:02d},\n" for n in range(1, 31))
    report = live_app.post(
        "/api/v1/samplesheets",
        upload_files=[("file", "sheet.csv", sheet.encode())],
        headers=api_headers(key),
    ).json
    ids = [identifier["site"] for identifier in report["staged"]]
    file = upload_file(live_app, key, "S100_R1.fastq", READS)
    with_file = stage(live_app, key, {"SampleId": "S100", "Reads": "S100_R1.fastq"}).json
    ids.append(with_file["id"]["site"])
    submission = live_app.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": ids, "fileIds": [file["id"]["site"]], "label": "January run"},
        headers=api_headers(key),
    ).json
    return {"member": member, "file": file, "submission": submission}


def log_in(page: Page, email: str) -> None:
    log_in_page(page, email, DEFAULT_PASSWORD)


def open_view(page: Page, email: str, path: str = "/view") -> None:
    log_in(page, email)
    page.goto(path)
    wait_loaded(page)


def wait_loaded(page: Page) -> None:
    page.wait_for_selector("#view-app[data-loaded]")


def sample_ids(page: Page) -> list[str]:
    return page.locator("#records tbody td[data-column=SampleId]").all_inner_texts()


def download(page: Page, selector: str, tmp_path) -> bytes:
    with page.expect_download() as info:
        page.click(selector)
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    return path.read_bytes()


def test_finding_sorting_paging_and_reloading(page, screenshots, lab):
    open_view(page, lab["member"].email)
    expect(page.locator("#total")).to_have_text("31 records")
    expect(page.locator("#records tbody tr")).to_have_count(25)
    # Newest submission first; within it the latest record first.
    assert sample_ids(page)[0] == "S100"
    screenshots.take("first-page")

    page.fill("#search-words", "s2")
    page.click("#search-button")
    expect(page.locator("#total")).to_have_text("11 records")
    assert sorted(sample_ids(page)) == ["S2", *[f"S{n}" for n in range(20, 30)]]
    screenshots.take("searched")

    page.locator("#records thead button[data-sort='record.SampleId']").click()
    wait_loaded(page)
    expect(page.locator("#records tbody td[data-column=SampleId]").first).to_have_text("S2")
    assert sample_ids(page) == ["S2", *[f"S{n}" for n in range(20, 30)]]
    page.locator("#records thead button[data-sort='record.SampleId']").click()
    expect(page.locator("#records tbody td[data-column=SampleId]").first).to_have_text("S29")
    screenshots.take("sorted-descending")

    page.fill("[data-filter-column=Date][data-filter-operation=from]", "2024-01-25")
    page.dispatch_event("[data-filter-column=Date][data-filter-operation=from]", "change")
    expect(page.locator("#total")).to_have_text("5 records")
    assert sample_ids(page) == ["S29", "S28", "S27", "S26", "S25"]
    screenshots.take("filtered-by-date")

    url = page.url
    page.reload()
    wait_loaded(page)
    assert page.url == url
    expect(page.locator("#search-words")).to_have_value("s2")
    expect(page.locator("#total")).to_have_text("5 records")
    assert sample_ids(page) == ["S29", "S28", "S27", "S26", "S25"]
    screenshots.take("reloaded")

    page.click("#reset-button")
    expect(page.locator("#total")).to_have_text("31 records")
    page.click("#next-page")
    expect(page.locator("#page-info")).to_have_text("Page 2 of 2")
    expect(page.locator("#records tbody tr")).to_have_count(6)
    screenshots.take("second-page")

    page.select_option("#page-size", "50")
    expect(page.locator("#records tbody tr")).to_have_count(31)
    page.goto("/view")  # the page size is remembered
    wait_loaded(page)
    expect(page.locator("#page-size")).to_have_value("50")
    expect(page.locator("#records tbody tr")).to_have_count(31)
    screenshots.take("page-size-remembered")


def test_a_column_filter_and_the_file_link(page, screenshots, lab, tmp_path):
    open_view(page, lab["member"].email)
    page.fill("[data-filter-column=SampleId]", "=S100")
    page.dispatch_event("[data-filter-column=SampleId]", "change")
    expect(page.locator("#total")).to_have_text("1 record")
    row = page.locator("#records tbody tr")
    expect(row.locator("td[data-column=Reads]")).to_contain_text("S100_R1.fastq")
    expect(row).to_contain_text("January run")
    expect(row).to_contain_text("Mia Member")
    screenshots.take("filtered-to-the-file")
    assert download(page, "#records tbody a.file-download", tmp_path) == READS


@pytest.mark.parametrize("file_format", ["csv", "tsv", "xlsx", "json"])
def test_exports_hold_what_is_found(page, screenshots, lab, tmp_path, file_format):
    open_view(page, lab["member"].email, "/view?q=S1&sort=record.SampleId")
    expect(page.locator("#total")).to_have_text("12 records")  # S1, S10-S19, S100
    screenshots.take("before-export")
    body = download(page, f"#export-{file_format}", tmp_path)
    expected = ["S1", "S10", "S100", *[f"S{n}" for n in range(11, 20)]]
    if file_format == "json":
        items = json.loads(body)
        assert [item["record"]["SampleId"] for item in items] == expected
        assert items[2]["files"]["Reads"]["md5"] == lab["file"]["checksum"]
        return
    if file_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    else:
        delimiter = "," if file_format == "csv" else "\t"
        rows = list(csv.reader(io.StringIO(body.decode()), delimiter=delimiter))
    header, *records = rows
    column = header.index("SampleId")
    assert [record[column] for record in records] == expected
    assert records[2][header.index("Reads MD5")] == lab["file"]["checksum"]


def test_the_submission_page_and_its_manifest(page, screenshots, lab, tmp_path):
    log_in(page, lab["member"].email)
    screenshots.take("home-page")
    page.click("#recent-submissions a")
    page.wait_for_selector("#submission-app[data-loaded]")
    site_id = lab["submission"]["id"]["site"]
    assert page.url.endswith(f"/submissions/{site_id}")
    expect(page.locator("h1")).to_have_text("January run")
    expect(page.locator("#summary-records")).to_have_text("31")
    expect(page.locator("#summary-user")).to_contain_text("Mia Member")
    expect(page.locator("#summary-files")).to_contain_text("1 (")
    expect(page.locator("#records tbody tr")).to_have_count(31)
    expect(page.locator("#files tbody tr")).to_have_count(1)
    expect(page.locator("#command-md5")).to_have_text(f"md5sum -c {site_id}.md5")
    screenshots.take("submission-page")

    assert download(page, "#files a.file-download", tmp_path) == READS
    manifest = download(page, "#manifest-tsv", tmp_path).decode()
    header, line = manifest.splitlines()
    assert header == "name\tsize\tmd5\tsite_id\turl"
    name, size, md5, file_id, url = line.split("\t")
    assert (name, size, md5) == ("S100_R1.fastq", str(len(READS)), lab["file"]["checksum"])
    assert file_id == lab["file"]["id"]["site"]
    response = page.request.get(url)
    assert response.body() == READS
    sums = download(page, "#manifest-md5", tmp_path).decode()
    assert sums == f"{md5}  S100_R1.fastq\n"
    records = download(page, "#export-csv", tmp_path).decode()
    assert len(records.splitlines()) == 32

    # The commands the page shows work as shown, in the folder of the two downloads.
    for tool in ("wget", "curl"):
        folder = tmp_path / tool
        folder.mkdir()
        for selector in ("#manifest-tsv", "#manifest-md5"):
            download(page, selector, folder)
        for command in (f"#command-{tool}", "#command-md5"):
            shown = page.locator(command).inner_text()
            done = subprocess.run(
                ["bash", "-c", shown], cwd=folder, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, (shown, done.stdout, done.stderr)
        assert (folder / "S100_R1.fastq").read_bytes() == READS
