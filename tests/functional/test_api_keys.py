"""API keys through the API: create, list, delete, and when they stop working."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from datameta.errors import ValidationFailed
from datameta.logic.apikeys import ExpiryRules, check_expiry, parse_expiry
from datameta.logic.auth import LOGIN_FAILED
from datameta.models import ApiKey
from datameta.security.tokens import TOKEN_ALPHABET, hash_token
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_user
from tests.helpers import api_headers, assert_api_error, csrf_token, login

MAX_MESSAGE = (
    "The defined expiration date exceeded the max allowed expiration period, which is 30 days."
)


def naive_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def parse_naive_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is None, "expiry times are sent without an offset"
    return moment.replace(tzinfo=UTC)


def create(client, body: dict, *, headers: dict | None = None, status: int = 200):
    return client.post_json("/api/v1/keys", body, headers=headers or {}, status=status)


def works(client, token: str) -> bool:
    response = client.get("/api/v1/rpc/whoami", headers=api_headers(token), expect_errors=True)
    return response.status_int == 200


# Creating


def test_email_and_password_create_a_key_in_the_wire_format(testapp, dbsession):
    user = make_user(dbsession, email="script@example.org")
    response = create(
        testapp, {"label": "my script", "email": "Script@Example.org", "password": DEFAULT_PASSWORD}
    )
    body = response.json
    assert set(body) == {"id", "userId", "token", "label", "expires"}
    assert set(body["id"]) == {"uuid"}
    assert body["userId"] == {"uuid": str(user.uuid), "site": user.site_id}
    assert body["label"] == "my script"
    assert len(body["token"]) == 64 and set(body["token"]) <= set(TOKEN_ALPHABET)
    default_end = datetime.now(UTC) + timedelta(days=30)
    assert abs((parse_naive_utc(body["expires"]) - default_end).total_seconds()) < 60
    assert works(testapp, body["token"])


def test_only_the_hash_of_the_token_is_stored(testapp, dbsession):
    user = make_user(dbsession)
    token = create(testapp, {"label": "k", "email": user.email, "password": DEFAULT_PASSWORD}).json[
        "token"
    ]
    stored = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == user.id))
    assert stored.token_hash == hash_token(token)
    assert token not in stored.token_hash


def test_an_api_key_creates_another_key_for_its_owner(testapp, dbsession):
    user = make_user(dbsession)
    response = create(
        testapp, {"label": "second"}, headers=api_headers(make_api_key(dbsession, user))
    )
    assert response.json["userId"]["uuid"] == str(user.uuid)


def test_a_session_creates_a_key_with_the_csrf_header(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    create(testapp, {"label": "no token"}, status=400)
    response = create(testapp, {"label": "ui"}, headers={"X-CSRF-Token": csrf_token(testapp)})
    assert response.json["userId"]["uuid"] == str(user.uuid)


@pytest.mark.parametrize("email", ["known", "unknown"])
def test_wrong_credentials_answer_the_same_401(testapp, dbsession, email):
    user = make_user(dbsession, email="known@example.org")
    address = user.email if email == "known" else "unknown@example.org"
    response = create(
        testapp, {"label": "k", "email": address, "password": "Wrong-Pass-1"}, status=401
    )
    items = assert_api_error(response, 401, "Unauthenticated", message=LOGIN_FAILED)
    assert items == [{"exception": "Unauthenticated", "message": LOGIN_FAILED}]


def test_no_credentials_at_all_is_401(testapp):
    assert_api_error(create(testapp, {"label": "k"}, status=401), 401, "Unauthenticated")


def test_an_invalid_api_key_is_401_even_with_a_right_password_in_the_body(testapp, dbsession):
    user = make_user(dbsession)
    body = {"label": "k", "email": user.email, "password": DEFAULT_PASSWORD}
    response = create(testapp, body, headers=api_headers("x" * 64), status=401)
    assert_api_error(response, 401, "Unauthenticated")


def test_a_label_is_required(testapp, dbsession):
    user = make_user(dbsession)
    response = create(
        testapp, {"label": ""}, headers=api_headers(make_api_key(dbsession, user)), status=400
    )
    assert_api_error(response, 400, "ValidationError", field="label")


# Expiry


@pytest.fixture
def key_headers(dbsession) -> dict[str, str]:
    return api_headers(make_api_key(dbsession, make_user(dbsession)))


def test_an_expiry_beyond_the_maximum_is_refused(testapp, key_headers):
    expires = naive_iso(datetime.now(UTC) + timedelta(days=30, minutes=5))
    response = create(testapp, {"label": "k", "expires": expires}, headers=key_headers, status=400)
    assert_api_error(response, 400, "ValidationError", field="expires", message=MAX_MESSAGE)


def test_an_expiry_at_the_maximum_is_accepted(testapp, key_headers):
    expires = datetime.now(UTC) + timedelta(days=30) - timedelta(seconds=5)
    response = create(testapp, {"label": "k", "expires": naive_iso(expires)}, headers=key_headers)
    assert parse_naive_utc(response.json["expires"]) == expires


def test_an_expiry_in_the_past_is_refused(testapp, key_headers):
    expires = naive_iso(datetime.now(UTC) - timedelta(minutes=1))
    response = create(testapp, {"label": "k", "expires": expires}, headers=key_headers, status=400)
    assert_api_error(response, 400, "ValidationError", field="expires")


def test_an_expiry_that_is_no_date_is_refused(testapp, key_headers):
    response = create(testapp, {"label": "k", "expires": "soon"}, headers=key_headers, status=400)
    assert_api_error(response, 400, "ValidationError", field="expires")


def test_an_expiry_with_an_offset_is_converted_to_utc(testapp, key_headers):
    in_two_days = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    zoned = in_two_days.astimezone(timezone(timedelta(hours=2)))
    response = create(testapp, {"label": "k", "expires": zoned.isoformat()}, headers=key_headers)
    assert response.json["expires"] == naive_iso(in_two_days)


def test_a_key_created_for_today_is_valid_until_its_time(testapp, dbsession, key_headers):
    later_today = datetime.now(UTC) + timedelta(minutes=1)
    response = create(
        testapp, {"label": "today", "expires": naive_iso(later_today)}, headers=key_headers
    )
    assert works(testapp, response.json["token"])


def test_a_key_created_for_the_date_of_today_lasts_through_the_day(testapp, key_headers):
    today = datetime.now(UTC).date().isoformat()
    response = create(testapp, {"label": "today", "expires": today}, headers=key_headers)
    expires = parse_naive_utc(response.json["expires"])
    assert expires > datetime.now(UTC)
    assert expires.date() <= date.today() + timedelta(days=1)
    assert works(testapp, response.json["token"])


def test_an_expired_key_stops_working(testapp, dbsession):
    user = make_user(dbsession)
    token = make_api_key(dbsession, user, expires=datetime.now(UTC) - timedelta(seconds=1))
    response = testapp.get("/api/v1/rpc/whoami", headers=api_headers(token), status=401)
    assert_api_error(response, 401, "Unauthenticated")


def test_a_key_of_a_disabled_user_stops_working(testapp, dbsession):
    user = make_user(dbsession)
    token = make_api_key(dbsession, user)
    user.enabled = False
    dbsession.flush()
    assert not works(testapp, token)


RULES = ExpiryRules(default_days=30, max_days=30)
NOW = datetime(2030, 5, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-05-10T13:00:00", datetime(2030, 5, 10, 13, 0, tzinfo=UTC)),
        ("2030-05-10T15:00:00+02:00", datetime(2030, 5, 10, 13, 0, tzinfo=UTC)),
        ("2030-05-10T13:00:00Z", datetime(2030, 5, 10, 13, 0, tzinfo=UTC)),
        ("2030-05-10T13:00", datetime(2030, 5, 10, 13, 0, tzinfo=UTC)),
        ("2030-05-10", datetime(2030, 5, 11, tzinfo=UTC)),
        ("2030-06-09", NOW + timedelta(days=30)),
    ],
)
def test_expiry_texts_are_read_as_utc(text, expected):
    assert parse_expiry(text, RULES, NOW) == expected


@pytest.mark.parametrize(
    "moment", [NOW, NOW - timedelta(seconds=1), NOW + timedelta(days=30, seconds=1)]
)
def test_expiry_must_lie_between_now_and_the_maximum(moment):
    with pytest.raises(ValidationFailed):
        check_expiry(moment, RULES, NOW)


# Listing


def test_a_user_lists_their_keys_with_their_expiry_state(testapp, dbsession):
    user = make_user(dbsession)
    fresh = make_api_key(dbsession, user, label="fresh")
    make_api_key(dbsession, user, label="old", expires=datetime.now(UTC) - timedelta(hours=1))
    response = testapp.get(f"/api/v1/users/{user.uuid}/keys", headers=api_headers(fresh))
    listed = {item["label"]: item for item in response.json}
    assert set(listed) == {"fresh", "old"}
    for item in listed.values():
        assert set(item) == {"id", "label", "expires", "hasExpired"}
        assert set(item["id"]) == {"uuid"}
        parse_naive_utc(item["expires"])
    assert listed["fresh"]["hasExpired"] is False
    assert listed["old"]["hasExpired"] is True
    assert "token" not in response.text


def test_keys_are_listed_by_site_id_too(testapp, dbsession):
    user = make_user(dbsession)
    token = make_api_key(dbsession, user)
    assert (
        len(testapp.get(f"/api/v1/users/{user.site_id}/keys", headers=api_headers(token)).json) == 1
    )


# That an unknown user or key is 404 is stated for every operation in test_visibility.py.


# Deleting


def key_id(db, user, label: str) -> str:
    return str(
        db.scalar(select(ApiKey.uuid).where(ApiKey.user_id == user.id, ApiKey.label == label))
    )


def test_the_owner_deletes_a_key_and_it_stops_working(testapp, dbsession):
    user = make_user(dbsession)
    keeper = make_api_key(dbsession, user, label="keeper")
    doomed = make_api_key(dbsession, user, label="doomed")
    testapp.delete(f"/api/v1/keys/{key_id(dbsession, user, 'doomed')}", headers=api_headers(keeper))
    assert not works(testapp, doomed)
    assert works(testapp, keeper)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("get", "/api/v1/users/{user}/keys", id="list them"),
        pytest.param("delete", "/api/v1/keys/{key}", id="delete one"),
    ],
)
def test_not_even_a_site_admin_sees_the_keys_of_someone_else(testapp, dbsession, method, path):
    owner = make_user(dbsession)
    owners_token = make_api_key(dbsession, owner, label="mine")
    admin = make_user(dbsession, site_admin=True)
    response = getattr(testapp, method)(
        path.format(user=owner.uuid, key=key_id(dbsession, owner, "mine")),
        headers=api_headers(make_api_key(dbsession, admin)),
        status=404,
    )
    assert_api_error(response, 404, "NotFound")
    assert works(testapp, owners_token)


def test_deleting_needs_credentials(testapp, dbsession):
    user = make_user(dbsession)
    make_api_key(dbsession, user, label="k")
    response = testapp.delete(f"/api/v1/keys/{key_id(dbsession, user, 'k')}", status=401)
    assert_api_error(response, 401)
    assert (
        dbsession.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id))
        == 1
    )
