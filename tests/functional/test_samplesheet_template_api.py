"""GET /samplesheets/template: any user downloads a template made from the current definitions."""

from __future__ import annotations

import io

import openpyxl

from tests.factories import DEFAULT_PASSWORD, define, define_service_column, make_user
from tests.helpers import api_headers, assert_api_error, login

URL = "/api/v1/samplesheets/template"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def define_columns(testapp, admin_key):
    """SampleId (mandatory, S+digits, example S1), Date (%Y-%m-%d, no example), Reads (a file)."""
    define(testapp, admin_key)
    plain = {"regExp": "", "regexDescription": "", "longDescription": "", "example": ""}
    optional = {"isMandatory": False, "isSubmissionUnique": False, "isSiteUnique": False}
    define(testapp, admin_key, name="Date", dateTimeFmt="%Y-%m-%d", order=20, **plain, **optional)
    define(testapp, admin_key, name="Reads", isFile=True, order=30, **plain, **optional)


def download(testapp, key, file_format=None, status=200):
    params = {"format": file_format} if file_format else {}
    return testapp.get(URL, params, headers=api_headers(key), status=status)


def sheet_header(body: bytes, sheet: str = "Samples") -> list:
    book = openpyxl.load_workbook(io.BytesIO(body))
    return [cell.value for cell in book[sheet][1]]


def tsv_header(response) -> str:
    return response.text.rstrip("\n").split("\n")[-1]


def test_the_default_is_an_xlsx_attachment(testapp, admin_key, user_key):
    define_columns(testapp, admin_key)
    response = download(testapp, user_key)
    assert response.content_type == XLSX_TYPE
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="datameta-samplesheet.xlsx"'
    )
    assert sheet_header(response.body) == ["SampleId", "Date", "Reads"]


def test_the_xlsx_describes_the_columns_and_gives_an_example(testapp, admin_key, user_key):
    define_columns(testapp, admin_key)
    book = openpyxl.load_workbook(io.BytesIO(download(testapp, user_key, "xlsx").body))
    samples = book["Samples"]
    assert samples["A1"].font.b and "Mandatory" in samples["A1"].comment.text
    assert "S followed by digits" in samples["A1"].comment.text
    assert "Date, written as 2024-01-31 (format %Y-%m-%d)" in samples["B1"].comment.text
    assert samples.column_dimensions["A"].number_format == "@"
    assert [cell.value for cell in book["Example"][2]] == ["S1", "2024-01-31", None]
    assert [row[0] for row in book["Columns"].iter_rows(values_only=True)][1:4] == [
        "SampleId",
        "Date",
        "Reads",
    ]


def test_the_tsv_is_utf8_text_with_comments_and_the_header(testapp, admin_key, user_key):
    define_columns(testapp, admin_key)
    define(testapp, admin_key, name="Größe", regExp="", example="1,5", isSiteUnique=False, order=40)
    response = download(testapp, user_key, "tsv")
    assert response.headers["Content-Type"] == "text/tab-separated-values; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="datameta-samplesheet.tsv"'
    )
    assert not response.body.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in response.body
    assert tsv_header(response) == "SampleId\tDate\tReads\tGröße"
    assert "# SampleId: mandatory." in response.text
    assert "# Example: S1\t2024-01-31\t\t1,5\n" in response.text


def test_the_header_follows_the_definitions_order(testapp, admin_key, user_key):
    define(testapp, admin_key, name="Last", order=30)
    define(testapp, admin_key, name="First", order=10)
    define(testapp, admin_key, name="Middle", order=20)
    assert sheet_header(download(testapp, user_key).body) == ["First", "Middle", "Last"]
    assert tsv_header(download(testapp, user_key, "tsv")) == "First\tMiddle\tLast"


def test_columns_a_service_fills_are_left_out(testapp, admin_key, user_key):
    define_columns(testapp, admin_key)
    define_service_column(testapp, admin_key, order=5)
    assert "QC" not in sheet_header(download(testapp, user_key).body)
    assert "QC" not in download(testapp, user_key, "tsv").text


def test_without_definitions_both_formats_are_still_valid_files(testapp, user_key):
    book = openpyxl.load_workbook(io.BytesIO(download(testapp, user_key).body))
    assert book.sheetnames == ["Samples", "Columns", "Example"]
    text = download(testapp, user_key, "tsv").text
    assert text.endswith("\n") and all(line.startswith("#") for line in text.splitlines())


def test_a_logged_in_session_may_download(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    assert testapp.get(URL).content_type == XLSX_TYPE


def test_an_anonymous_caller_is_refused(testapp):
    response = testapp.get(URL, headers={"Accept": "application/json"}, status=401)
    assert_api_error(response, 401)


def test_an_unknown_format_is_refused(testapp, user_key):
    response = download(testapp, user_key, "csv", status=400)
    assert_api_error(response, 400, field="format")
