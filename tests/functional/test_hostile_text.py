"""Text no database can store is refused at the door: 400 naming the field, nothing changed.

PostgreSQL refuses NUL characters, and lone UTF-16 surrogates or bytes that are not
UTF-8 cannot be stored as text at all. Wherever such text comes in (a JSON body, a
form, a query parameter, a path id), the answer is 400 and nothing is written.
"""

import json
import re

import pytest
from sqlalchemy import func, select

from datameta.models import MetaDatum, User
from tests.factories import DEFAULT_PASSWORD, DEFINITION, make_user
from tests.helpers import api_headers, assert_api_error, csrf_token


def definitions(dbsession) -> int:
    return dbsession.scalar(select(func.count()).select_from(MetaDatum))


def post_raw(testapp, path, body: bytes, key: str, status: int = 400):
    return testapp.post(
        path,
        body,
        headers={**api_headers(key), "Content-Type": "application/json"},
        status=status,
    )


def test_a_body_that_is_not_utf8_is_refused_naming_the_field(testapp, dbsession, admin_key):
    body = b'{"name": "Sample\xff", "longDescription": "ok"}'
    response = post_raw(testapp, "/api/v1/metadata", body, admin_key)
    assert_api_error(response, 400, "ValidationError", field="name")
    assert definitions(dbsession) == 0


def test_a_body_that_is_neither_utf8_nor_json_is_refused(testapp, dbsession, admin_key):
    response = post_raw(testapp, "/api/v1/metadata", b"\xff\xfe{", admin_key)
    assert_api_error(response, 400, "ValidationError")
    assert definitions(dbsession) == 0


@pytest.mark.parametrize("text", ["\\u0000", "a\\u0000b", "\\ud800", "x\\udfffy"])
def test_nul_and_lone_surrogates_in_a_body_value_are_refused(testapp, dbsession, admin_key, text):
    # json.dumps would escape the backslash: the escape goes into the JSON text as it is.
    raw = json.dumps({**DEFINITION, "name": "NAME"}).replace("NAME", text).encode()
    response = post_raw(testapp, "/api/v1/metadata", raw, admin_key)
    items = assert_api_error(response, 400, "ValidationError", field="name")
    assert "\x00" not in response.text and "\\u0000" not in response.text
    assert len(items) == 1
    assert definitions(dbsession) == 0


def test_the_field_is_the_dotted_path_into_the_body(testapp, admin_key):
    raw = b'{"metadatasetIds": ["ok", "bad\\u0000"], "fileIds": [], "label": null}'
    response = post_raw(testapp, "/api/v1/presubvalidation", raw, admin_key)
    assert_api_error(response, 400, "ValidationError", field="metadatasetIds.1")


def test_a_nul_in_a_key_of_the_body_is_refused(testapp, admin_key):
    raw = b'{"record": {"Sample\\u0000Id": "S1"}}'
    response = post_raw(testapp, "/api/v1/metadatasets", raw, admin_key)
    items = assert_api_error(response, 400, "ValidationError")
    assert items[0]["field"].startswith("record.")


def test_a_put_body_is_checked_as_well(testapp, dbsession, admin_key):
    user = make_user(dbsession)
    raw = b'{"name": "New\\u0000Name"}'
    response = testapp.put(
        f"/api/v1/users/{user.site_id}",
        raw,
        headers={**api_headers(admin_key), "Content-Type": "application/json"},
        status=400,
    )
    assert_api_error(response, 400, "ValidationError", field="name")
    dbsession.refresh(user)
    assert "\x00" not in user.fullname


def test_a_nul_in_a_query_parameter_is_refused_naming_it(testapp, admin_key):
    response = testapp.get(
        "/api/v1/metadatasets?awaitingService=%00x", headers=api_headers(admin_key), status=400
    )
    assert_api_error(response, 400, "ValidationError", field="awaitingService")


def test_a_query_parameter_that_is_not_utf8_is_refused_naming_it(testapp, admin_key):
    response = testapp.get(
        "/api/v1/metadatasets?awaitingService=%FF", headers=api_headers(admin_key), status=400
    )
    assert_api_error(response, 400, "ValidationError", field="awaitingService")


@pytest.mark.parametrize("path_id", ["%00", "DMR-%00", "%ED%A0%80", "%FF"])
def test_a_bad_path_id_is_refused_naming_the_parameter(testapp, admin_key, path_id):
    response = testapp.get(
        f"/api/v1/metadatasets/{path_id}", headers=api_headers(admin_key), status=400
    )
    assert_api_error(response, 400, "ValidationError", field="id")


def test_a_nul_in_the_login_form_shows_an_error_page_not_a_crash(testapp, dbsession):
    user = make_user(dbsession)
    token = csrf_token(testapp)
    response = testapp.post(
        "/login",
        {"email": user.email + "\x00", "password": DEFAULT_PASSWORD, "csrf_token": token},
        status=400,
    )
    assert "email contains a character that cannot be stored" in response.text


def test_a_nul_in_the_registration_form_registers_nobody(testapp, dbsession):
    before = dbsession.scalar(select(func.count()).select_from(User))
    token = csrf_token(testapp)
    form = {
        "name": "Eve\x00",
        "email": "eve@example.org",
        "org_select": "",
        "org_new_name": "Lab",
        "check_user_agreement": "on",
        "csrf_token": token,
    }
    testapp.post("/register", form, status=400)
    assert dbsession.scalar(select(func.count()).select_from(User)) == before


def test_static_files_are_served_and_a_nul_in_their_path_is_refused(testapp):
    assert testapp.get("/static/js/account.js").status_int == 200
    testapp.get("/static/js/%00.js", status=400)


def json_body_operations() -> list[tuple[str, str]]:
    import yaml

    from datameta.api import SPEC_PATH

    with open(SPEC_PATH) as spec_file:
        spec = yaml.safe_load(spec_file)
    return [
        (method.upper(), "/api/v1" + re.sub(r"\{[^}]+\}", "DMU-00000001", path))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"post", "put", "patch"}
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


@pytest.mark.parametrize(("method", "path"), json_body_operations())
def test_every_json_body_that_is_not_utf8_is_refused(testapp, admin_key, method, path):
    response = testapp.request(
        path,
        method=method,
        body=b'{"x": "\xff"}',
        headers={**api_headers(admin_key), "Content-Type": "application/json"},
        expect_errors=True,
    )
    assert_api_error(response, 400, "ValidationError", field="x")
