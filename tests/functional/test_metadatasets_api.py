"""/metadatasets: staging rows, reading them back, deleting them, and listing submitted ones."""

import pytest

import datameta.logic.metadatasets
from datameta.db import recorded_statements
from datameta.logic.metadata import save_definition
from tests.factories import (
    committed_submitter,
    define,
    define_sample_sheet,
    definition_input,
    make_api_key,
    make_user,
    stage,
)
from tests.helpers import api_headers, assert_api_error, request_statements

RESPONSE_KEYS = {"id", "record", "fileIds", "userId", "submissionId", "serviceExecutions"}


@pytest.fixture
def submitter(dbsession, testapp):
    admin = make_user(dbsession, site_admin=True)
    define_sample_sheet(testapp, make_api_key(dbsession, admin))
    user = make_user(dbsession)
    return user, make_api_key(dbsession, user)


def test_a_staged_set_answers_exactly_datameta_1_keys(testapp, submitter):
    user, key = submitter
    staged = stage(testapp, key, {"SampleId": "S1", "Date": "2021-03-04"}).json
    assert set(staged) == RESPONSE_KEYS
    assert staged["record"] == {"SampleId": "S1", "Date": "2021-03-04T00:00:00", "Reads": None}
    assert staged["fileIds"] == {"Reads": None}
    assert staged["submissionId"] is None
    assert staged["serviceExecutions"] is None
    assert staged["userId"] == {"uuid": str(user.uuid), "site": user.site_id}
    assert staged["id"]["site"].startswith("DMR-")


def test_staging_answers_dates_as_stored_in_iso_as_datameta_1_does(testapp, submitter):
    # DataMeta 1.x clients turn a bare date string into a date object they cannot print as
    # JSON; the ISO value DataMeta 1.1.1 answers here becomes a datetime they print fine.
    _, key = submitter
    staged = stage(testapp, key, {"SampleId": "S1", "Date": "2021-03-04"}).json
    assert staged["record"]["Date"] == "2021-03-04T00:00:00"


def test_dates_are_shown_in_the_columns_format_or_as_iso_on_request(testapp, submitter):
    _, key = submitter
    staged = stage(testapp, key, {"SampleId": "S1", "Date": "2021-03-04"}).json
    site_id = staged["id"]["site"]
    shown = testapp.get(f"/api/v1/metadatasets/{site_id}", headers=api_headers(key)).json
    assert shown["record"]["Date"] == "2021-03-04"
    iso = testapp.get(
        f"/api/v1/metadatasets/{site_id}?isoDates=true", headers=api_headers(key)
    ).json
    assert iso["record"]["Date"] == "2021-03-04T00:00:00"


def test_every_problem_is_reported_at_once_with_its_field(testapp, submitter):
    _, key = submitter
    response = stage(testapp, key, {"SampleId": "X1", "Date": "04.03.2021", "Tisue": "x"}, 400)
    items = assert_api_error(response, 400, "ValidationError")
    assert {(item["field"], item["message"]) for item in items} == {
        ("SampleId", "S followed by digits"),
        ("Date", "The field could not be parsed as a valid date / time"),
        ("Tisue", "The field was not expected."),
    }


def test_an_empty_mandatory_value_is_refused(testapp, submitter):
    _, key = submitter
    assert_api_error(stage(testapp, key, {"SampleId": ""}, 400), 400, field="SampleId")


def test_non_string_values_are_stored_as_text(testapp, submitter):
    _, key = submitter
    staged = stage(testapp, key, {"SampleId": "S1", "Reads": 5}).json
    assert staged["record"]["Reads"] == "5"


def test_staged_sets_are_seen_only_by_their_owner(testapp, dbsession, submitter):
    user, key = submitter
    staged = stage(testapp, key, {"SampleId": "S1"}).json
    colleague = make_api_key(dbsession, make_user(dbsession, group=user.group, site_read=True))
    response = testapp.get(
        f"/api/v1/metadatasets/{staged['id']['uuid']}", headers=api_headers(colleague), status=404
    )
    assert_api_error(response, 404)


def test_the_pending_list_shows_the_callers_staged_sets(testapp, submitter):
    user, key = submitter
    stage(testapp, key, {"SampleId": "S1"})
    stage(testapp, key, {"SampleId": "S2"})
    pending = testapp.get(
        f"/api/v1/users/{user.site_id}/pending_metadatasets", headers=api_headers(key)
    ).json
    assert [m["record"]["SampleId"] for m in pending] == ["S1", "S2"]


def test_nobody_lists_someone_elses_pending_sets(testapp, dbsession, submitter):
    user, _ = submitter
    other = make_api_key(dbsession, make_user(dbsession, site_admin=True))
    response = testapp.get(
        f"/api/v1/users/{user.site_id}/pending_metadatasets",
        headers=api_headers(other),
        status=404,
    )
    assert_api_error(response, 404, "NotFound")


def test_deleting_one_and_many(testapp, submitter):
    _, key = submitter
    first = stage(testapp, key, {"SampleId": "S1"}).json["id"]["site"]
    second = stage(testapp, key, {"SampleId": "S2"}).json["id"]["uuid"]
    testapp.delete(f"/api/v1/metadatasets/{first}", headers=api_headers(key), status=204)
    testapp.get(f"/api/v1/metadatasets/{first}", headers=api_headers(key), status=404)
    response = testapp.post_json(
        "/api/v1/rpc/delete-metadatasets",
        {"metadatasetIds": [second, "DMR-99999999"]},
        headers=api_headers(key),
        status=404,
    )
    assert_api_error(response, 404)
    testapp.get(f"/api/v1/metadatasets/{second}", headers=api_headers(key), status=200)
    testapp.post_json(
        "/api/v1/rpc/delete-metadatasets",
        {"metadatasetIds": [second]},
        headers=api_headers(key),
        status=204,
    )


def test_no_submitted_sets_is_an_empty_list_not_404(testapp, submitter):
    _, key = submitter
    assert testapp.get("/api/v1/metadatasets", headers=api_headers(key)).json == []
    paged = testapp.get("/api/v1/metadatasets?limit=10", headers=api_headers(key))
    assert paged.json == []
    assert paged.headers["X-Total-Count"] == "0"


def test_without_credentials_it_is_401(testapp):
    assert_api_error(testapp.get("/api/v1/metadatasets", status=401), 401)


def submit_many(testapp, key, count, start):
    """Submit sets S<start>, S<start+1>, ...: staged by one sample sheet, submitted at once."""
    sheet = "SampleId,Date,Reads\n" + "".join(f"S{start + i},,\n" for i in range(count))
    report = testapp.post(
        "/api/v1/samplesheets",
        upload_files=[("file", "sheet.csv", sheet.encode())],
        headers=api_headers(key),
    ).json
    ids = [identifier["site"] for identifier in report["staged"]]
    assert len(ids) == count, report
    testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": ids, "fileIds": [], "label": None},
        headers=api_headers(key),
    )


def test_listing_runs_the_same_statements_for_few_and_many_sets(testapp, dbengine, submitter):
    _, key = submitter
    submit_many(testapp, key, 2, 100)
    with recorded_statements(dbengine) as few:
        testapp.get("/api/v1/metadatasets", headers=api_headers(key))
    submit_many(testapp, key, 30, 200)
    with recorded_statements(dbengine) as many:
        testapp.get("/api/v1/metadatasets", headers=api_headers(key))
    assert len(testapp.get("/api/v1/metadatasets", headers=api_headers(key)).json) == 32
    assert len(few) == len(many)


def sample_ids(response):
    return [metadataset["record"]["SampleId"] for metadataset in response.json]


def test_without_limit_or_offset_every_submitted_set_is_listed(testapp, submitter):
    # DataMeta 1.x answers all of them, and its clients know nothing of pages.
    _, key = submitter
    submit_many(testapp, key, 105, 1000)
    response = testapp.get("/api/v1/metadatasets", headers=api_headers(key))
    assert sample_ids(response) == [f"S{1000 + i}" for i in range(105)]
    assert response.content_type == "application/json"
    assert "X-Total-Count" not in response.headers


def test_with_limit_or_offset_it_pages_and_counts(testapp, submitter):
    _, key = submitter
    submit_many(testapp, key, 105, 1000)
    first = testapp.get("/api/v1/metadatasets?limit=10", headers=api_headers(key))
    assert sample_ids(first) == [f"S{1000 + i}" for i in range(10)]
    assert first.headers["X-Total-Count"] == "105"
    rest = testapp.get("/api/v1/metadatasets?offset=100", headers=api_headers(key))
    assert sample_ids(rest) == [f"S{1100 + i}" for i in range(5)]
    assert rest.headers["X-Total-Count"] == "105"


@pytest.fixture
def committed_key(committed_db, live_app):
    """A submitter's API key, with the sample sheet defined, all committed."""
    return committed_submitter(committed_db, live_app)


def test_the_whole_listing_is_streamed_from_committed_data(live_app, committed_key):
    # The body is sent after the request's transaction has ended: it reads on its own.
    submit_many(live_app, committed_key, 25, 1)
    response = live_app.get("/api/v1/metadatasets", headers=api_headers(committed_key))
    assert sample_ids(response) == [f"S{1 + i}" for i in range(25)]
    assert response.content_type == "application/json"


def test_streaming_runs_the_same_statements_however_many_sets_it_sends(
    live_app, committed_key, dbengine, monkeypatch
):
    # One statement read through a server-side cursor, batch after batch: more sets
    # mean more batches fetched from it, not more statements.
    monkeypatch.setattr(datameta.logic.metadatasets, "STREAM_BATCH_SIZE", 10)
    counts = []
    for start in (100, 200, 300):
        submit_many(live_app, committed_key, 10, start)
        with recorded_statements(dbengine) as statements:
            response = live_app.get("/api/v1/metadatasets", headers=api_headers(committed_key))
        assert len(response.json) == start // 10
        counts.append(len(statements))
    assert counts[0] == counts[1] == counts[2]


@pytest.mark.parametrize("offset", ["-16:54", "+23:59"])
def test_any_iso_offset_filters_by_submission_time(testapp, submitter, offset):
    """PostgreSQL takes offsets up to 15:59 only; ISO 8601 allows up to 23:59."""
    _, key = submitter
    submit_many(testapp, key, 1, 300)
    early = testapp.get(
        "/api/v1/metadatasets",
        {"submittedAfter": f"2000-01-01T00:00:00{offset}"},
        headers=api_headers(key),
    )
    assert len(early.json) == 1
    late = testapp.get(
        "/api/v1/metadatasets",
        {"submittedAfter": f"4948-07-02T20:21:03{offset}"},
        headers=api_headers(key),
    )
    assert late.json == []


def test_an_offset_beyond_any_count_is_refused_not_a_crash(testapp, submitter):
    _, key = submitter
    response = testapp.get(
        "/api/v1/metadatasets", {"offset": str(2**63)}, headers=api_headers(key), status=400
    )
    assert_api_error(response, 400, field="offset")


def staging_statements(testapp, dbengine, key: str, columns: int) -> list[str]:
    """The statements that staging one record with ``columns`` values runs."""
    record = {f"C{number}": f"v{number}" for number in range(columns)}
    stage(testapp, key, record)  # a first request may load the definitions; later ones not
    with recorded_statements(dbengine) as statements:
        staged = stage(testapp, key, {**record, "C0": "other"}).json
    assert {name: value for name, value in staged["record"].items() if value} == {
        **record,
        "C0": "other",
    }
    return request_statements(statements)


def test_staging_runs_the_same_few_statements_for_2_and_for_40_columns(
    testapp, dbengine, dbsession
):
    admin = make_user(dbsession, site_admin=True)
    key = make_api_key(dbsession, make_user(dbsession))
    for number in range(2):
        save_definition(dbsession, admin, definition_input(f"C{number}", order=number))
    few = staging_statements(testapp, dbengine, key, 2)
    for number in range(2, 40):
        save_definition(dbsession, admin, definition_input(f"C{number}", order=number))
    many = staging_statements(testapp, dbengine, key, 40)
    # Who calls (the key and its user, with the definitions' version in passing), then
    # the set with its site id and its values in one insert: the answer is not read back.
    assert len(few) == len(many) == 2


def test_a_record_of_only_empty_values_is_stored(live_app, committed_db):
    # Staging it writes the set and nothing else (the user's API use was noted just
    # before, and empty values have no rows): a write outside the ORM's unit of work,
    # which the transaction must commit all the same.
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    define(live_app, admin_key, name="Note", regExp="", isMandatory=False, isSiteUnique=False)
    live_app.get("/api/v1/rpc/whoami", headers=api_headers(key))

    staged = stage(live_app, key, {"Note": None}).json

    read = live_app.get(f"/api/v1/metadatasets/{staged['id']['uuid']}", headers=api_headers(key))
    assert read.json["record"] == {"Note": None}
