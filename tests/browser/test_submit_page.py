"""The submit page in a real browser: sample sheets, data files, one submission.

A submitter downloads the template, adds a sheet with mistakes and sees each at
its cell, adds the corrected sheet, picks the data files and watches them go to
S3, and commits; the submission is then there in the API. Another test stages
10,000 records and checks that the page stays quick: one request for them, one
page of rows in the document, paging and filtering without the server.
Screenshots of every step land in test-output/screenshots/.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from datameta.logic.metadata import save_definition
from datameta.logic.metadatasets import stage_records
from tests.factories import DEFAULT_PASSWORD, definition_input, make_group, make_user

pytestmark = pytest.mark.browser

API = "/api/v1/"


COLUMNS = [
    definition_input(
        "SampleId",
        10,
        regexp="S[0-9]+",
        regex_description="S followed by digits",
        long_description="The sample's identifier",
        example="S1",
        mandatory=True,
        site_unique=True,
    ),
    definition_input("Date", 20, datetime_format="%Y-%m-%d", example="2024-01-31"),
    definition_input("Reads", 30, is_file=True, mandatory=True, example="S1_R1.fastq"),
]

SHEET_WITH_MISTAKES = (
    "SampleId,Date,Reads\nS1,2024-01-05,S1_R1.fastq\nX2,2024-01-06,S2_R1.fastq\nS3,2024-02-30,\n"
)
CORRECTED_SHEET = (
    "SampleId,Date,Reads\n"
    "S1,2024-01-05,S1_R1.fastq\n"
    "S2,2024-01-06,S2_R1.fastq\n"
    "S3,2024-02-28,S3_R1.fastq\n"
)
DATA_FILES = {f"S{n}_R1.fastq": f"@read{n}\nACGT\n+\nIIII\n".encode() * n for n in (1, 2, 3)}


@pytest.fixture
def submitter(committed_db):
    group = make_group(committed_db, "Sequencing Lab")
    admin = make_user(committed_db, group=group, email="admin@example.org", site_admin=True)
    user = make_user(committed_db, group=group, email="submitter@example.org")
    for column in COLUMNS:
        save_definition(committed_db, admin, column)
    committed_db.commit()
    return user


def open_submit_page(page: Page, email: str, *, timeout: float = 10_000) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")
    page.goto("/submit")
    page.wait_for_selector("#submit-app[data-ready=true]", timeout=timeout)


def drop_file(page: Page, zone: str, name: str, content: bytes) -> None:
    """Drop a file onto ``zone`` as a person dragging it from their desktop would."""
    page.evaluate(
        """([zone, name, bytes]) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], name));
            const init = { bubbles: true, cancelable: true, dataTransfer: data };
            document.querySelector(zone).dispatchEvent(new DragEvent("drop", init));
        }""",
        [zone, name, list(content)],
    )


def record_row(page: Page, sample_id: str):
    """The row of the pending records table whose SampleId is ``sample_id``."""
    cell = page.locator(
        "td[data-column=SampleId] .cell-value", has_text=re.compile(f"^{sample_id}$")
    )
    return page.locator("#records-table tbody tr").filter(has=cell)


def test_a_submission_from_template_to_commit(
    page, screenshots, submitter, live_server, tmp_path: Path
):
    open_submit_page(page, submitter.email)
    expect(page.locator("#commit-reason")).to_have_text("Add a sample sheet to begin.")
    expect(page.locator("#columns-table tr[data-column=SampleId]")).to_contain_text(
        "S followed by digits"
    )
    expect(page.locator("#commit-button")).to_be_disabled()
    screenshots.take("empty-page")

    with page.expect_download() as download_info:
        page.click("#template-xlsx")
    download = download_info.value
    template = tmp_path / download.suggested_filename
    download.save_as(template)
    assert template.suffix == ".xlsx"
    assert template.read_bytes().startswith(b"PK")  # a zip: an xlsx workbook

    # A sheet with mistakes: nothing is staged, and every problem is at its cell.
    sheet = tmp_path / "samples.csv"
    sheet.write_text(SHEET_WITH_MISTAKES)
    page.set_input_files("#sheet-input", str(sheet))
    report = page.locator(".sheet-report[data-sheet='samples.csv']")
    expect(report.locator(".sheet-status")).to_contain_text("Nothing was staged")
    rejected = report.locator(".rejected-table")
    expect(
        rejected.locator("tr[data-row='3'] td[data-column=SampleId].cell-problem")
    ).to_contain_text("S followed by digits")
    expect(rejected.locator("tr[data-row='3'] td[data-column=SampleId]")).to_contain_text("X2")
    expect(rejected.locator("tr[data-row='4'] td[data-column=Date].cell-problem")).to_contain_text(
        "could not be parsed"
    )
    expect(rejected.locator("tr[data-row='4'] td[data-column=Reads].cell-problem")).to_contain_text(
        "mandatory"
    )
    expect(rejected.locator("tbody tr")).to_have_count(2)
    expect(page.locator("#records-empty")).to_be_visible()
    screenshots.take("sheet-with-mistakes")

    # The corrected sheet is staged as a whole.
    sheet.write_text(CORRECTED_SHEET)
    page.set_input_files("#sheet-input", str(sheet))
    expect(report.locator(".sheet-status")).to_contain_text("3 rows staged from samples.csv")
    expect(page.locator("#records-table tbody tr")).to_have_count(3)
    # The files are not there yet: the check says so at each file cell.
    for sample_id in ("S1", "S2", "S3"):
        cell = record_row(page, sample_id).locator("td[data-column=Reads]")
        expect(cell.locator(".file-badge")).to_have_text("missing")
        expect(cell).to_have_class("cell-problem")
        expect(cell).to_contain_text("Referenced file not provided")
    expect(page.locator("#commit-reason")).to_contain_text("3 problems in 3 selected records")
    expect(page.locator("#commit-button")).to_be_disabled()
    expect(page.locator("#submission-label")).to_be_disabled()
    screenshots.take("sheet-staged-files-missing")

    # Two files through the picker, one dropped onto the drop zone.
    paths = []
    for name in ("S1_R1.fastq", "S2_R1.fastq"):
        path = tmp_path / name
        path.write_bytes(DATA_FILES[name])
        paths.append(str(path))
    page.set_input_files("#data-input", paths)
    drop_file(page, "[data-drop-for=data-input]", "S3_R1.fastq", DATA_FILES["S3_R1.fastq"])
    files = page.locator("#files-table tbody tr")
    expect(files).to_have_count(3)
    screenshots.take("files-added")
    for name in DATA_FILES:
        expect(page.locator(f"#files-table tr[data-name='{name}']")).to_have_attribute(
            "data-state", "uploaded", timeout=30_000
        )
    for sample_id in ("S1", "S2", "S3"):
        expect(record_row(page, sample_id).locator(".file-badge")).to_have_text("received")
    expect(page.locator("#commit-reason")).to_have_text(
        "Ready: 3 records and 3 files will be submitted."
    )
    expect(page.locator("#commit-button")).to_be_enabled()
    row = page.locator("#files-table tr[data-name='S2_R1.fastq']")
    expect(row).to_contain_text(hashlib.md5(DATA_FILES["S2_R1.fastq"]).hexdigest())  # noqa: S324
    screenshots.take("files-uploaded-ready")

    # Deselecting a record takes its file out of the submission.
    record_row(page, "S3").locator("input[type=checkbox]").uncheck()
    expect(page.locator("#commit-reason")).to_have_text(
        "Ready: 2 records and 2 files will be submitted."
    )
    expect(page.locator("#files-table tr[data-name='S3_R1.fastq']")).to_contain_text(
        "not named by a selected record"
    )
    page.click("#records-select-all")
    expect(page.locator("#commit-reason")).to_have_text(
        "Ready: 3 records and 3 files will be submitted."
    )

    page.fill("#submission-label", "First run")
    screenshots.take("label-entered")
    page.click("#commit-button")
    done = page.locator(".submission-done")
    expect(done).to_contain_text("is committed: 3 records and 3 files")
    site_id = done.get_attribute("data-submission")
    expect(page.locator("#records-empty")).to_be_visible()
    expect(page.locator("#files-empty")).to_be_visible()
    screenshots.take("committed")

    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    submission = requests.get(
        f"{live_server}/api/v1/submissions/{site_id}", cookies=cookies, timeout=30
    )
    assert submission.status_code == 200, submission.text
    assert submission.json()["label"] == "First run"
    assert len(submission.json()["metadatasetIds"]) == 3
    assert len(submission.json()["fileIds"]) == 3
    submitted = requests.get(f"{live_server}/api/v1/metadatasets", cookies=cookies, timeout=30)
    assert sorted(item["record"]["SampleId"] for item in submitted.json()) == ["S1", "S2", "S3"]


def test_ten_thousand_pending_records_stay_responsive(page, screenshots, submitter, committed_db):
    records = [
        {"SampleId": f"S{n}", "Date": "2024-01-31", "Reads": f"S{n}_R1.fastq"}
        for n in range(10_000)
    ]
    stage_records(committed_db, submitter, records)
    committed_db.commit()

    api_calls: list[str] = []
    page.on(
        "request", lambda request: api_calls.append(request.url) if API in request.url else None
    )
    # Generous: how fast it is belongs in a benchmark, not in a test a busy machine fails.
    open_submit_page(page, submitter.email, timeout=60_000)
    expect(page.locator("#records-summary")).to_have_text("10,000 records, 10,000 selected")
    # Only one page of rows is in the document, whatever the number of records.
    expect(page.locator("#records-table tbody tr")).to_have_count(100)
    expect(page.locator("#records-page-info")).to_contain_text("Rows 1\u2013100 of 10,000")
    # The check of all 10,000 finds each missing file at its cell.
    expect(page.locator("#commit-reason")).to_contain_text(
        "10,000 problems in 10,000 selected records", timeout=30_000
    )
    # The records come in one request, not one per record or per page of rows.
    assert sum("/pending_metadatasets" in url for url in api_calls) == 1, api_calls
    assert len(api_calls) <= 10, api_calls
    screenshots.take("ten-thousand-first-page")

    calls_after_loading = len(api_calls)
    page.click("#records-pager button[data-page=last]")
    expect(page.locator("#records-page-info")).to_contain_text("Rows 9,901\u201310,000 of 10,000")
    expect(record_row(page, "S9999")).to_have_count(1)
    page.fill("#records-filter", "S4242")
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    expect(record_row(page, "S4242").locator("td[data-column=Reads]")).to_contain_text(
        "Referenced file not provided"
    )
    # Paging and filtering happen in the page, without asking the server.
    assert len(api_calls) == calls_after_loading, api_calls[calls_after_loading:]
    screenshots.take("ten-thousand-filtered")

    page.fill("#records-filter", "")
    page.click("#records-deselect-all")
    expect(page.locator("#records-summary")).to_have_text("10,000 records, 0 selected")
    expect(page.locator("#commit-reason")).to_have_text("Select at least one record.")
    page.locator("#records-page-checkbox").check()
    expect(page.locator("#records-summary")).to_have_text("10,000 records, 100 selected")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#records-delete")
    # Deleting reloads the 9,900 records that remain: generous, as for the first load.
    expect(page.locator("#records-summary")).to_have_text(
        "9,900 records, 0 selected", timeout=60_000
    )
    screenshots.take("ten-thousand-after-delete")


def test_a_failed_upload_can_be_retried(page, screenshots, submitter, settings, tmp_path: Path):
    storage = settings.s3.public_endpoint_url or settings.s3.endpoint_url
    data = tmp_path / "S1_R1.fastq"
    data.write_bytes(DATA_FILES["S1_R1.fastq"])
    open_submit_page(page, submitter.email)

    # The storage cannot be reached: the upload fails and says so.
    page.route(lambda url: url.startswith(storage), lambda route: route.abort())
    page.set_input_files("#data-input", str(data))
    row = page.locator("#files-table tr[data-name='S1_R1.fastq']")
    expect(row).to_have_attribute("data-state", "failed")
    expect(row).to_contain_text("The connection to the storage failed")
    screenshots.take("upload-failed")

    page.unroute_all()
    row.get_by_role("button", name="Retry S1_R1.fastq").click()
    expect(row).to_have_attribute("data-state", "uploaded")
    expect(row).to_contain_text(hashlib.md5(data.read_bytes()).hexdigest())  # noqa: S324
    expect(page.locator("#files-summary")).to_have_text(
        "1 file, 1 uploaded, 0 named by the selected records"
    )
    screenshots.take("upload-retried")


def test_the_page_needs_a_login(page):
    page.goto("/submit")
    page.wait_for_url("**/login?next=%2Fsubmit")
    expect(page.locator("#email")).to_be_visible()


def test_the_valid_rows_of_a_sheet_can_be_staged_anyway(page, screenshots, submitter, tmp_path):
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(SHEET_WITH_MISTAKES.replace(",", "\t"))
    open_submit_page(page, submitter.email)
    page.set_input_files("#sheet-input", str(sheet))
    report = page.locator(".sheet-report[data-sheet='samples.tsv']")
    report.get_by_role("button", name="Stage the 1 valid row anyway").click()
    expect(report.locator(".sheet-status")).to_have_text(
        "samples.tsv: 1 row staged, 2 rows not staged (below)."
    )
    expect(report.locator(".rejected-table tbody tr")).to_have_count(2)
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    expect(record_row(page, "S1")).to_have_count(1)
    screenshots.take("staged-anyway")
