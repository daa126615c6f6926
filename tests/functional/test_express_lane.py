"""The express lane: ordinary stagings served without Pyramid's machinery, every other
request (and every error) answered by the app exactly as before, with nothing written."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from datameta.api import express_lane
from datameta.api.express import ExpressCall, ExpressLane, express_route
from datameta.api.metadatasets import stage_one
from datameta.models import MetaDataSet, User
from tests.factories import (
    committed_submitter,
    confirm_upload,
    make_api_key,
    make_user,
    stage,
    upload_file,
)
from tests.functional.test_observability import json_log  # noqa: F401 (a fixture)
from tests.helpers import api_headers, assert_api_error, committing_client

pytestmark = pytest.mark.usefixtures("clean_database")

RECORD = {"SampleId": "S1", "Date": "2021-03-04"}


@pytest.fixture
def client(app):
    """A client of the app behind the lane, whose requests commit."""
    return committing_client(app)


@pytest.fixture
def app_alone(app):
    """A client of the app without the lane in front of it."""
    return committing_client(app.app)


@pytest.fixture
def key(committed_db, client) -> str:
    return committed_submitter(committed_db, client)


def staged_count(dbengine) -> int:
    with dbengine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(MetaDataSet))


def without_ids(answer: dict) -> dict:
    return {name: value for name, value in answer.items() if name != "id"}


@pytest.fixture
def handed_over(app) -> tuple[list[str], object]:
    """The paths the lane hands to the app, and a client of that lane."""
    lane = express_lane(app.app)
    paths: list[str] = []
    behind = lane.app

    def counting_app(environ, start_response):
        paths.append(environ["PATH_INFO"])
        return behind(environ, start_response)

    lane.app = counting_app
    return paths, committing_client(lane)


def test_the_lane_serves_an_ordinary_staging_and_hands_over_the_rest(handed_over, key):
    paths, client = handed_over
    stage(client, key, RECORD)
    assert paths == []
    stage(client, key, {"SampleId": "X1"}, status=400)
    client.get("/api/v1/metadata", headers=api_headers(key))
    assert paths == ["/api/v1/metadatasets", "/api/v1/metadata"]


def test_the_lane_serves_a_small_files_announcement_and_confirmation(handed_over, key):
    paths, client = handed_over
    uploaded = upload_file(client, key, "r1.fastq", b"ACGT" * 256)
    assert (uploaded["contentUploaded"], uploaded["filesize"]) == (True, 1024)
    assert paths == []


def test_a_file_of_someone_else_is_not_found_by_the_app_as_before(handed_over, key, committed_db):
    paths, client = handed_over
    uploaded = upload_file(client, key, "r1.fastq", b"ACGT")
    other = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    response = confirm_upload(client, other, uploaded["id"]["site"], status=404)
    assert_api_error(response, 404)
    assert paths == [f"/api/v1/files/{uploaded['id']['site']}"]


def test_the_lane_answers_a_staging_as_the_app_does(client, app_alone, key):
    by_lane = stage(client, key, RECORD)
    by_app = stage(app_alone, key, {**RECORD, "SampleId": "S2"})
    assert without_ids(by_lane.json) == {
        **without_ids(by_app.json),
        "record": {**by_app.json["record"], "SampleId": "S1"},
    }
    assert by_lane.json["id"]["site"] != by_app.json["id"]["site"]
    lane_headers = {name for name in by_lane.headers if name != "Content-Length"}
    app_headers = {name for name in by_app.headers if name != "Content-Length"}
    assert lane_headers == app_headers
    for name in lane_headers - {"X-Request-ID"}:
        assert by_lane.headers[name] == by_app.headers[name], name


def test_a_staging_by_the_lane_is_committed_and_notes_the_keys_use(
    client, key, committed_db, dbengine
):
    stage(client, key, RECORD)
    assert staged_count(dbengine) == 1
    with dbengine.connect() as connection:
        used = connection.scalar(sa.select(sa.func.max(User.last_api_use)))
    assert used is not None and datetime.now(UTC) - used < timedelta(minutes=1)


def test_the_lane_keeps_the_clients_request_id_and_logs_one_access_line(
    client,
    key,
    json_log,  # noqa: F811 (the fixture)
):
    response = client.post_json(
        "/api/v1/metadatasets",
        {"record": RECORD},
        headers={**api_headers(key), "X-Request-ID": "script-run-42"},
    )
    assert response.headers["X-Request-ID"] == "script-run-42"
    [line] = [line for line in json_log.access() if line["route"] == "api_metadatasets"]
    assert (line["method"], line["status"], line["request_id"]) == ("POST", 200, "script-run-42")
    assert line["user"]


@pytest.mark.parametrize(
    ("record", "status", "field"),
    [
        ({"SampleId": "X1"}, 400, "SampleId"),  # a column's rule
        ({"SampleId": "S1", "Nope": "x"}, 400, "Nope"),  # no such column
        ({"SampleId": "S1\\u0000"}, 400, "record.SampleId"),  # text no database stores
    ],
)
def test_a_record_the_rules_refuse_is_answered_by_the_app_and_writes_nothing(
    client, key, dbengine, record, status, field
):
    body = '{"record": {' + ", ".join(f'"{k}": "{v}"' for k, v in record.items()) + "}}"
    response = client.post(
        "/api/v1/metadatasets",
        body,
        headers={**api_headers(key), "Content-Type": "application/json"},
        status=status,
    )
    assert_api_error(response, status, field=field)
    assert staged_count(dbengine) == 0


def test_a_body_the_spec_refuses_is_answered_by_the_app(client, key, dbengine):
    response = client.post_json(
        "/api/v1/metadatasets", {"records": [RECORD]}, headers=api_headers(key), status=400
    )
    assert_api_error(response, 400)
    assert staged_count(dbengine) == 0


def test_a_body_that_is_not_json_is_answered_by_the_app(client, key):
    response = client.post(
        "/api/v1/metadatasets",
        b"{not json",
        headers={**api_headers(key), "Content-Type": "application/json"},
        status=400,
    )
    assert_api_error(response, 400)


@pytest.mark.parametrize("authorization", ["Bearer not-a-key", "Basic dXNlcjpwYXNz", "Bearer"])
def test_a_request_without_a_valid_key_is_answered_by_the_app(client, key, dbengine, authorization):
    response = client.post_json(
        "/api/v1/metadatasets",
        {"record": RECORD},
        headers={"Authorization": authorization},
        status=401,
    )
    assert_api_error(response, 401)
    assert staged_count(dbengine) == 0


def test_an_expired_key_or_a_disabled_user_is_refused_as_before(
    client, key, committed_db, dbengine
):
    user = make_user(committed_db)
    expired = make_api_key(committed_db, user, expires=datetime.now(UTC) - timedelta(seconds=1))
    disabled_user = make_user(committed_db)
    disabled = make_api_key(committed_db, disabled_user)
    disabled_user.enabled = False
    committed_db.commit()
    for token in (expired, disabled):
        assert_api_error(stage(client, token, RECORD, status=401), 401)
    assert staged_count(dbengine) == 0


def test_what_the_lane_wrote_before_a_failure_is_undone_and_the_app_answers(app, key, dbengine):
    def stage_then_lose_a_race(call: ExpressCall) -> dict:
        stage_one(call.db, call.user, call.body["record"])
        raise RuntimeError("could not serialize access")

    route = express_route("api_metadatasets", "POST", "/metadatasets", stage_then_lose_a_race)
    response = stage(committing_client(ExpressLane(app.app, [route])), key, RECORD)
    assert response.json["record"]["SampleId"] == "S1"
    assert staged_count(dbengine) == 1


def test_a_body_over_the_limit_is_refused_unread(client, key, settings, dbengine):
    big = {"SampleId": "S1", "Date": "x" * settings.max_body_bytes}
    response = client.post_json(
        "/api/v1/metadatasets", {"record": big}, headers=api_headers(key), status=413
    )
    assert_api_error(response, 413)
    assert staged_count(dbengine) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"query": "?isoDates=true"},
        {"content_type": "application/json; charset=utf-8"},
    ],
)
def test_requests_off_the_lanes_path_are_served_by_the_app_alike(client, key, extra):
    path = "/api/v1/metadatasets" + extra.get("query", "")
    response = client.post(
        path,
        b'{"record": {"SampleId": "S1"}}',
        headers={**api_headers(key), "Content-Type": extra.get("content_type", "application/json")},
    )
    assert response.json["record"]["SampleId"] == "S1"
