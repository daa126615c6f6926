"""POST /samplesheets: a whole sheet in one request; valid rows staged, the rest reported."""

import io
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from datameta.models import MetaDatumRecord
from tests.factories import define_sample_sheet, define_service_column, make_api_key, make_user
from tests.helpers import api_headers, assert_api_error, assert_matches_spec

URL = "/api/v1/samplesheets"


@pytest.fixture
def key(dbsession, testapp):
    define_sample_sheet(testapp, make_api_key(dbsession, make_user(dbsession, site_admin=True)))
    user = make_user(dbsession)
    return make_api_key(dbsession, user)


def upload(testapp, key, content, name="sheet.csv", status=200, query=""):
    response = testapp.post(
        URL + query, upload_files=[("file", name, content)], headers=api_headers(key), status=status
    )
    if status == 200:
        assert_matches_spec(response, "post", URL)
    return response


def test_valid_rows_are_staged_and_the_rest_reported_by_row_and_cell(testapp, key):
    sheet = b"SampleId,Date,Reads\nS1,2024-01-31,s1.fq\nX2,31.01.2024,\nS3,,\n"
    report = upload(testapp, key, sheet).json
    assert report["rowsRead"] == 3
    assert report["dryRun"] is False
    assert len(report["staged"]) == 2
    assert report["rejected"] == [
        {
            "row": 3,
            "errors": [
                {"field": "SampleId", "value": "X2", "message": "S followed by digits"},
                {
                    "field": "Date",
                    "value": "31.01.2024",
                    "message": "The field could not be parsed as a valid date / time",
                },
            ],
        }
    ]
    staged = testapp.get(
        f"/api/v1/metadatasets/{report['staged'][0]['site']}", headers=api_headers(key)
    ).json
    assert staged["record"] == {"SampleId": "S1", "Date": "2024-01-31", "Reads": "s1.fq"}


def test_a_dry_run_reports_but_stages_nothing(testapp, key):
    report = upload(testapp, key, b"SampleId\nS1\n", query="?dryRun=true").json
    assert report == {"dryRun": True, "rowsRead": 1, "staged": [], "rejected": []}


@pytest.mark.parametrize("word", ["1", "yes", "on", "TRUE"])
def test_dry_run_takes_any_yes_word(testapp, key, word):
    report = upload(testapp, key, b"SampleId\nS1\n", query=f"?dryRun={word}").json
    assert report["dryRun"] is True
    assert report["staged"] == []


def test_a_dry_run_flag_that_is_no_boolean_is_refused_and_nothing_staged(testapp, key, dbsession):
    response = testapp.post(
        URL + "?dryRun=maybe",
        upload_files=[("file", "sheet.csv", b"SampleId\nS1\n")],
        headers=api_headers(key),
        status=400,
    )
    assert_api_error(response, 400, "ValidationError", field="dryRun")
    assert dbsession.scalar(sa.select(sa.func.count()).select_from(MetaDatumRecord)) == 0


def test_a_repeated_row_is_reported_not_dropped(testapp, key):
    report = upload(testapp, key, b"SampleId\nS1\nS1\n").json
    assert len(report["staged"]) == 1
    assert report["rejected"] == [
        {"row": 3, "errors": [{"field": None, "value": None, "message": "The row repeats row 2."}]}
    ]


def test_a_sheet_missing_mandatory_columns_is_refused_whole(testapp, key):
    response = upload(testapp, key, b"Date,Tissue\n2024-01-31,liver\n", status=400)
    messages = {item["message"] for item in assert_api_error(response, 400, field="file")}
    assert messages == {"Unknown columns: Tissue.", "Missing mandatory columns: SampleId."}


def test_service_columns_are_not_expected(testapp, dbsession, key):
    admin_key = make_api_key(dbsession, make_user(dbsession, site_admin=True))
    define_service_column(testapp, admin_key, isMandatory=True)
    assert upload(testapp, key, b"SampleId\nS1\n").json["staged"]
    response = upload(testapp, key, b"SampleId,QC\nS1,pass\n", status=400)
    assert_api_error(response, 400, message="Unknown columns: QC.")


def test_an_xlsx_sheet_with_typed_cells(testapp, key):
    workbook = Workbook()
    workbook.active.append(["SampleId", "Date", "Reads"])
    workbook.active.append(["S7", date(2024, 1, 31), 17])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = upload(testapp, key, buffer.getvalue(), name="sheet.xlsx").json
    staged = testapp.get(
        f"/api/v1/metadatasets/{report['staged'][0]['uuid']}", headers=api_headers(key)
    ).json
    assert staged["record"] == {"SampleId": "S7", "Date": "2024-01-31", "Reads": "17"}


def test_a_request_without_a_file_part_is_refused(testapp, key):
    response = testapp.post(URL, {"other": "x"}, headers=api_headers(key), status=400)
    assert_api_error(response, 400, field="file")


def test_a_body_that_breaks_off_is_refused(testapp, key):
    head = b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
    # Sent as bytes: webtest would write a multipart body of its own, a whole one.
    response = testapp.request(
        URL,
        method="POST",
        body=head + b"SampleId\nS1\n",
        headers=api_headers(key),
        content_type="multipart/form-data; boundary=XYZ",
        status=400,
    )
    [item] = assert_api_error(response, 400, "ValidationError", field="file")
    assert "broken" in item["message"]


def test_a_garbage_file_is_refused_with_a_message(testapp, key):
    response = upload(testapp, key, bytes(range(256)) * 4, name="x.bin", status=400)
    assert_api_error(response, 400, field="file")


def test_it_needs_a_login(testapp):
    assert_api_error(testapp.post(URL, upload_files=[("file", "a.csv", b"x")], status=401), 401)


def test_many_values_go_in_by_copy_and_keep_every_character(testapp, dbsession, key):
    tricky = 'tab\there, "quoted", back\\slash, ünïcödé'
    rows = "".join(f'S{i},,"{tricky.replace(chr(34), chr(34) * 2)}"\n' for i in range(600))
    report = upload(testapp, key, ("SampleId,Date,Reads\n" + rows).encode()).json
    assert len(report["staged"]) == 600
    stored = dbsession.scalars(
        sa.select(MetaDatumRecord.value).where(MetaDatumRecord.value.like("tab%"))
    ).all()
    assert len(stored) == 600 and set(stored) == {tricky}
