"""The account page: change the password, manage API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from datameta.models import ApiKey
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_user
from tests.helpers import api_headers, client_in_transaction, login

NEW_PASSWORD = "Brand-New-Secret-7"
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def user(testapp, dbsession):
    user = make_user(dbsession, fullname="Ann Account", email="ann@example.org")
    login(testapp, user.email, DEFAULT_PASSWORD)
    return user


def change_password(testapp, old: str, new: str, repeat: str | None = None, **kw):
    form = testapp.get("/account").forms["change-password"]
    form["old_password"] = old
    form["new_password"] = new
    form["new_password_repeat"] = new if repeat is None else repeat
    return form.submit(**kw)


def create_key(testapp, label: str, expires: str | None = None, **kw):
    form = testapp.get("/account").forms["create-key"]
    form["label"] = label
    if expires is not None:
        form["expires"] = expires
    return form.submit(**kw)


def works(testapp, token: str) -> bool:
    response = testapp.get("/api/v1/rpc/whoami", headers=api_headers(token), expect_errors=True)
    return response.status_int == 200


def test_the_account_page_needs_a_login(testapp):
    response = testapp.get("/account", status=302)
    assert response.location.endswith("/login?next=%2Faccount")


def test_the_page_has_a_password_section_and_a_key_section(testapp, user):
    page = testapp.get("/account")
    password_form = page.forms["change-password"]
    assert {"old_password", "new_password", "new_password_repeat", "csrf_token"} <= set(
        password_form.fields
    )
    key_form = page.forms["create-key"]
    assert {"label", "expires", "csrf_token"} <= set(key_form.fields)
    expires = page.html.find("input", {"name": "expires"})
    assert expires["type"] == "datetime-local"
    assert expires["min"] < expires["value"] <= expires["max"]
    for name in ("old_password", "new_password", "new_password_repeat", "label", "expires"):
        assert page.html.find("label", {"for": name}) is not None
    assert page.html.find("script", src="/static/js/account.js") is not None


# Changing the password


def test_changing_the_password_keeps_this_browser_and_ends_the_others(
    app, testapp, dbsession, tm, user
):
    other = client_in_transaction(app, tm, dbsession)
    login(other, user.email, DEFAULT_PASSWORD)
    response = change_password(testapp, DEFAULT_PASSWORD, NEW_PASSWORD, status=302)
    assert response.location.endswith("/account")
    assert "Your password has been changed" in response.follow().text
    assert testapp.get("/account").status_int == 200
    assert other.get("/account").status_int == 302
    fresh = client_in_transaction(app, tm, dbsession)
    login(fresh, user.email, DEFAULT_PASSWORD, status=400)
    login(fresh, user.email, NEW_PASSWORD)


def test_a_wrong_current_password_is_shown_at_its_field(testapp, user):
    response = change_password(testapp, "Not-My-Password-1", NEW_PASSWORD, status=400)
    assert "not correct" in response.html.find(id="old_password-error").text
    assert NEW_PASSWORD not in response.text


def test_the_new_passwords_must_match(testapp, user):
    response = change_password(testapp, DEFAULT_PASSWORD, NEW_PASSWORD, "Other-Pass-12", status=400)
    assert "do not match" in response.html.find(id="new_password_repeat-error").text


@pytest.mark.parametrize(
    ("password", "message"),
    [("weakling", "at least 10 characters"), (DEFAULT_PASSWORD, "already been used")],
)
def test_the_policy_is_shown_at_the_new_password(testapp, user, password, message):
    response = change_password(testapp, DEFAULT_PASSWORD, password, status=400)
    assert message in response.html.find(id="new_password-error").text


def test_forms_without_the_csrf_token_are_refused(testapp, user):
    testapp.post(
        "/account",
        {
            "action": "change_password",
            "old_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_repeat": NEW_PASSWORD,
        },
        status=400,
    )
    testapp.post("/account", {"action": "create_key", "label": "x"}, status=400)
    login(testapp, user.email, DEFAULT_PASSWORD)


def test_an_unknown_action_is_refused(testapp, user):
    form = testapp.get("/account").forms["create-key"]
    form["action"].force_value("explode")
    form.submit(status=400)


# API keys


def test_a_new_key_is_shown_once_with_a_copy_button(testapp, dbsession, user):
    page = create_key(testapp, "laptop", status=200)
    field = page.html.find("input", id="new-token")
    assert field.has_attr("readonly")
    token = field["value"]
    assert len(token) == 64
    button = page.html.find("button", attrs={"data-copy-target": "new-token"})
    assert button is not None and "Copy" in button.text
    assert works(testapp, token)
    stored = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == user.id))
    assert stored.label == "laptop"
    assert token not in testapp.get("/account").text


def test_the_expiry_field_defaults_to_the_default_period(testapp, user):
    value = testapp.get("/account").forms["create-key"]["expires"].value
    default = datetime.strptime(value, DATETIME_LOCAL).replace(tzinfo=UTC)
    assert abs(default - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=2)


def test_a_key_created_for_later_today_works_until_then(testapp, dbsession, user):
    later = datetime.now(UTC) + timedelta(minutes=2)
    page = create_key(testapp, "today", later.strftime(DATETIME_LOCAL), status=200)
    assert works(testapp, page.html.find("input", id="new-token")["value"])
    assert "expired" not in page.html.find("table").text


def test_an_expiry_beyond_the_maximum_is_shown_at_its_field(testapp, user):
    too_late = (datetime.now(UTC) + timedelta(days=31)).strftime(DATETIME_LOCAL)
    page = create_key(testapp, "too long", too_late, status=400)
    assert "max allowed expiration period" in page.html.find(id="expires-error").text
    assert page.forms["create-key"]["label"].value == "too long"


def test_an_expiry_in_the_past_is_shown_at_its_field(testapp, user):
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime(DATETIME_LOCAL)
    page = create_key(testapp, "old", past, status=400)
    assert page.html.find(id="expires-error") is not None


def test_a_key_needs_a_label(testapp, user):
    form = testapp.get("/account").forms["create-key"]
    form["label"] = "   "
    page = form.submit(status=400)
    assert page.html.find(id="label-error") is not None


def test_the_list_shows_each_key_with_its_expiry_and_expired_badge(testapp, dbsession, user):
    make_api_key(dbsession, user, label="current", expires=datetime(2099, 1, 1, 12, 30, tzinfo=UTC))
    make_api_key(dbsession, user, label="stale", expires=datetime.now(UTC) - timedelta(days=1))
    rows = {
        row.find("td").text.strip(): row for row in testapp.get("/account").html.select("tbody tr")
    }
    assert set(rows) == {"current", "stale"}
    assert "2099-01-01 12:30" in rows["current"].text
    assert rows["current"].find(class_="badge") is None
    assert rows["stale"].find(class_="badge").text == "expired"


def test_a_key_is_deleted_with_its_form(testapp, dbsession, user):
    token = make_api_key(dbsession, user, label="doomed")
    key = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == user.id))
    page = testapp.get("/account")
    response = page.forms[f"delete-key-{key.uuid}"].submit(status=302)
    assert "has been deleted" in response.follow().text
    assert not works(testapp, token)


def test_nobody_deletes_the_key_of_someone_else_through_the_page(testapp, dbsession, user):
    owner = make_user(dbsession)
    token = make_api_key(dbsession, owner, label="not yours")
    key = dbsession.scalar(select(ApiKey).where(ApiKey.user_id == owner.id))
    csrf = testapp.get("/account").forms["create-key"]["csrf_token"].value
    testapp.post(
        "/account",
        {"action": "delete_key", "key_id": str(key.uuid), "csrf_token": csrf},
        status=404,  # another user's key does not exist for the caller
    )
    assert works(testapp, token)


def test_the_copy_script_uses_the_clipboard(testapp):
    script = testapp.get("/static/js/account.js")
    assert "navigator.clipboard.writeText" in script.text
