"""POST /rpc/metadatum-impact: what a new or changed column would do to staged records."""

from __future__ import annotations

import pytest

from tests.factories import DEFINITION, define, make_api_key, make_group, make_user, stage
from tests.helpers import api_headers, assert_api_error

URL = "/api/v1/rpc/metadatum-impact"
# An optional free-text column, as the admin page starts a new one.
FREE = {
    **DEFINITION,
    "name": "Tissue",
    "regExp": "",
    "regexDescription": "",
    "isMandatory": False,
    "isSubmissionUnique": False,
    "isSiteUnique": False,
    "order": 20,
}


@pytest.fixture
def submitters(testapp, dbsession, admin_key):
    """Two submitters with staged records: SampleId S1, S2 and S3, Tissue liver, -, lung."""
    define(testapp, admin_key)
    define(testapp, admin_key, **FREE)
    lab = make_group(dbsession)
    keys = [make_api_key(dbsession, make_user(dbsession, group=lab)) for _ in range(2)]
    stage(testapp, keys[0], {"SampleId": "S1", "Tissue": "liver"})
    stage(testapp, keys[0], {"SampleId": "S2"})
    stage(testapp, keys[1], {"SampleId": "S3", "Tissue": "lung"})
    return keys


def impact(testapp, key, definition, definition_id=None, *, status=200):
    body = (
        {"definition": definition}
        if definition_id is None
        else {"id": definition_id, "definition": definition}
    )
    return testapp.post_json(URL, body, headers=api_headers(key), status=status)


def column_id(testapp, key, name):
    listed = testapp.get("/api/v1/metadata", headers=api_headers(key)).json
    return next(item["id"]["uuid"] for item in listed if item["name"] == name)


def test_a_new_mandatory_column_fails_every_staged_record(testapp, admin_key, submitters):
    answer = impact(testapp, admin_key, {**FREE, "name": "Organism", "isMandatory": True})
    assert answer.json == {"stagedRecords": 3, "users": 2}


def test_a_new_optional_column_fails_none(testapp, admin_key, submitters):
    assert impact(testapp, admin_key, {**FREE, "name": "Organism"}).json == {
        "stagedRecords": 0,
        "users": 0,
    }


def test_a_pattern_counts_the_values_it_would_refuse(testapp, admin_key, submitters):
    tissue = column_id(testapp, admin_key, "Tissue")
    answer = impact(testapp, admin_key, {**FREE, "regExp": "^(liver|heart)$"}, tissue)
    # "lung" fails; the empty value of the optional column does not.
    assert answer.json == {"stagedRecords": 1, "users": 1}


def test_making_a_column_mandatory_counts_the_empty_values(testapp, admin_key, submitters):
    tissue = column_id(testapp, admin_key, "Tissue")
    answer = impact(testapp, admin_key, {**FREE, "isMandatory": True}, tissue)
    assert answer.json == {"stagedRecords": 1, "users": 1}


def test_records_that_fail_already_are_not_counted_again(testapp, admin_key, submitters):
    sample = column_id(testapp, admin_key, "SampleId")
    # Every staged SampleId matches S[0-9]+; narrowing it to S1 makes two fail.
    narrowed = impact(testapp, admin_key, {**DEFINITION, "regExp": "S1"}, sample).json
    assert narrowed == {"stagedRecords": 2, "users": 2}


def test_nothing_is_saved(testapp, admin_key, submitters):
    before = testapp.get("/api/v1/metadata", headers=api_headers(admin_key)).json
    impact(testapp, admin_key, {**FREE, "name": "Organism", "isMandatory": True})
    assert testapp.get("/api/v1/metadata", headers=api_headers(admin_key)).json == before


def test_a_bad_pattern_is_refused_naming_it(testapp, admin_key):
    response = impact(testapp, admin_key, {**FREE, "regExp": "(a"}, status=400)
    assert_api_error(response, 400, "ValidationError", field="regExp")


def test_an_unknown_definition_is_404(testapp, admin_key):
    response = impact(testapp, admin_key, FREE, "00000000-0000-4000-8000-000000000000", status=404)
    assert_api_error(response, 404)


def test_assessing_needs_credentials(testapp):
    assert_api_error(testapp.post_json(URL, {"definition": FREE}, status=401), 401)


@pytest.mark.parametrize(
    ("group", "roles"),
    [
        ("own", {}),
        ("own", {"group_admin": True}),
        ("other", {"group_admin": True}),
        ("own", {"site_read": True}),
    ],
    ids=["regular", "group admin of this group", "group admin of another", "site read"],
)
def test_only_site_admins_assess_definitions(testapp, dbsession, group, roles):
    user = make_user(dbsession, group=make_group(dbsession), **roles)
    response = impact(testapp, make_api_key(dbsession, user), FREE, status=403)
    assert_api_error(response, 403, "AccessDenied")
