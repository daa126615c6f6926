"""/metadata: site admins define the sample sheet's columns over the API."""

import pytest

from tests.factories import DEFINITION, define
from tests.helpers import api_headers, assert_api_error

RESPONSE_KEYS = {
    "id",
    "name",
    "regexDescription",
    "longDescription",
    "example",
    "regExp",
    "dateTimeFmt",
    "isMandatory",
    "order",
    "isFile",
    "isSubmissionUnique",
    "isSiteUnique",
    "serviceId",
}


def test_a_definition_answers_exactly_datameta_1_keys(testapp, admin_key):
    created = define(testapp, admin_key, dateTimeFmt="")
    assert set(created) == RESPONSE_KEYS
    assert set(created["id"]) == {"uuid"}  # definitions have no site id, so no "site" key
    assert created["dateTimeFmt"] is None
    assert created["serviceId"] is None


def test_everybody_reads_the_definitions_in_order(testapp, admin_key, user_key):
    define(testapp, admin_key, name="B", order=2)
    define(testapp, admin_key, name="A", order=1)
    listed = testapp.get("/api/v1/metadata", headers=api_headers(user_key)).json
    assert [d["name"] for d in listed] == ["A", "B"]


def test_only_site_admins_define(testapp, user_key):
    response = testapp.post_json(
        "/api/v1/metadata", DEFINITION, headers=api_headers(user_key), status=403
    )
    assert_api_error(response, 403)


def test_a_null_service_id_means_no_service(testapp, admin_key):
    created = define(testapp, admin_key, serviceId=None)
    assert created["serviceId"] is None


def test_every_attribute_is_required(testapp, admin_key):
    body = {key: value for key, value in DEFINITION.items() if key != "order"}
    response = testapp.post_json(
        "/api/v1/metadata", body, headers=api_headers(admin_key), status=400
    )
    assert_api_error(response, 400, field="order")


def test_unknown_attributes_are_refused(testapp, admin_key):
    response = testapp.post_json(
        "/api/v1/metadata", {**DEFINITION, "extra": 1}, headers=api_headers(admin_key), status=400
    )
    assert_api_error(response, 400, field="extra")


def test_duplicate_names_and_bad_patterns_are_refused_with_their_fields(testapp, admin_key):
    define(testapp, admin_key)
    response = testapp.post_json(
        "/api/v1/metadata",
        {**DEFINITION, "regExp": "(a)\\1", "dateTimeFmt": "nope"},
        headers=api_headers(admin_key),
        status=400,
    )
    fields = {item["field"] for item in assert_api_error(response, 400, "ValidationError")}
    assert fields == {"name", "regExp", "dateTimeFmt"}


def test_an_unknown_service_is_404(testapp, admin_key):
    response = testapp.post_json(
        "/api/v1/metadata",
        {**DEFINITION, "serviceId": "DMP-99999999"},
        headers=api_headers(admin_key),
        status=404,
    )
    assert_api_error(response, 404)


def test_updating_an_unknown_definition_is_404_not_500(testapp, admin_key):
    response = testapp.put_json(
        "/api/v1/metadata/5b0b2b46-1111-4c2b-9a0e-000000000000",
        DEFINITION,
        headers=api_headers(admin_key),
        status=404,
    )
    assert_api_error(response, 404)


def test_a_definition_is_updated_and_deleted(testapp, admin_key):
    created = define(testapp, admin_key)
    uuid = created["id"]["uuid"]
    updated = testapp.put_json(
        f"/api/v1/metadata/{uuid}",
        {**DEFINITION, "isMandatory": False},
        headers=api_headers(admin_key),
    ).json
    assert updated["isMandatory"] is False
    testapp.delete(f"/api/v1/metadata/{uuid}", headers=api_headers(admin_key), status=204)
    assert testapp.get("/api/v1/metadata", headers=api_headers(admin_key)).json == []


@pytest.mark.parametrize("order", [2**31, -(2**31) - 1, -(2**53)])
def test_an_order_beyond_32_bits_is_refused_naming_it(testapp, admin_key, order):
    response = testapp.post_json(
        "/api/v1/metadata",
        {**DEFINITION, "order": order},
        headers=api_headers(admin_key),
        status=400,
    )
    assert_api_error(response, 400, field="order")
