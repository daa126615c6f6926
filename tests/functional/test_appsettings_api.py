"""GET /appsettings and PUT /appsettings/{id}: typed settings that site admins change as text."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from datameta.models import AppSetting
from tests.factories import make_api_key, make_user
from tests.helpers import api_headers, assert_api_error


@pytest.fixture
def admin(dbsession) -> dict[str, str]:
    return api_headers(make_api_key(dbsession, make_user(dbsession, site_admin=True)))


def setting(dbsession, key: str) -> AppSetting:
    return dbsession.scalar(select(AppSetting).where(AppSetting.key == key))


def put_setting(testapp, headers, key_or_id: str, value, *, status=204):
    return testapp.put_json(
        f"/api/v1/appsettings/{key_or_id}", {"value": value}, headers=headers, status=status
    )


# GET /appsettings


def test_listing_settings_needs_credentials(testapp):
    assert_api_error(testapp.get("/api/v1/appsettings", status=401), 401)


@pytest.mark.parametrize(
    "roles",
    [{}, {"group_admin": True}, {"site_read": True}],
    ids=["regular", "group admin", "site read"],
)
def test_only_site_admins_see_the_settings(testapp, dbsession, roles):
    headers = api_headers(make_api_key(dbsession, make_user(dbsession, **roles)))
    response = testapp.get("/api/v1/appsettings", headers=headers, status=403)
    assert_api_error(response, 403, "AccessDenied")


def test_a_site_admin_sees_every_setting_with_its_type_and_value_as_text(testapp, dbsession, admin):
    response = testapp.get("/api/v1/appsettings", headers=admin)
    by_key = {item["key"]: item for item in response.json}
    assert len(by_key) == len(response.json) == len(dbsession.scalars(select(AppSetting)).all())
    attempts = setting(dbsession, "security_max_failed_login_attempts")
    assert by_key["security_max_failed_login_attempts"] == {
        # App settings have no site id: the id has no "site" key at all.
        "id": {"uuid": str(attempts.uuid)},
        "key": "security_max_failed_login_attempts",
        "valueType": "int",
        "value": str(attempts.value),
    }
    assert by_key["registration_show_groups"]["valueType"] == "bool"
    assert by_key["registration_show_groups"]["value"] in {"true", "false"}
    assert by_key["subject_reject"]["valueType"] == "string"


# PUT /appsettings/{id}


def test_changing_a_setting_needs_credentials(testapp, dbsession):
    target = setting(dbsession, "renderer_page_title")
    response = testapp.put_json(f"/api/v1/appsettings/{target.uuid}", {"value": "X"}, status=401)
    assert_api_error(response, 401)


def test_only_site_admins_change_settings(testapp, dbsession):
    headers = api_headers(make_api_key(dbsession, make_user(dbsession, group_admin=True)))
    target = setting(dbsession, "renderer_page_title")
    response = put_setting(testapp, headers, target.uuid, "Ours", status=403)
    assert_api_error(response, 403, "AccessDenied")
    assert target.value != "Ours"


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("security_max_failed_login_attempts", "7", 7),
        ("renderer_page_title", "Submission Portal", "Submission Portal"),
        ("user_agreement", "", ""),
        ("registration_show_groups", "false", False),
    ],
)
def test_a_site_admin_changes_a_setting_from_its_text(testapp, dbsession, admin, key, text, value):
    target = setting(dbsession, key)
    put_setting(testapp, admin, target.uuid, text)
    assert target.value == value
    listed = testapp.get("/api/v1/appsettings", headers=admin).json
    assert {item["key"]: item["value"] for item in listed}[key] == text


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("security_max_failed_login_attempts", "seven"),
        ("security_max_failed_login_attempts", "2.5"),
        ("security_max_failed_login_attempts", "-1"),
        ("registration_show_groups", "maybe"),
    ],
)
def test_a_value_not_of_the_settings_type_is_refused(testapp, dbsession, admin, key, text):
    target = setting(dbsession, key)
    before = target.value
    response = put_setting(testapp, admin, target.uuid, text, status=400)
    assert_api_error(response, 400, "ValidationError", field="value")
    assert target.value == before


def test_a_value_must_be_given_as_text(testapp, dbsession, admin):
    target = setting(dbsession, "security_max_failed_login_attempts")
    response = put_setting(testapp, admin, target.uuid, 7, status=400)
    assert_api_error(response, 400, "ValidationError")


@pytest.mark.parametrize("unknown", [str(uuid.uuid4()), "security_max_failed_login_attempts"])
def test_an_unknown_setting_is_not_found(testapp, admin, unknown):
    # Settings are named by their UUID only, not by key.
    response = put_setting(testapp, admin, unknown, "1", status=404)
    assert_api_error(response, 404, "NotFound")


# Mail texts: only the placeholders their mail fills


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("template_forgot_token", "Dear {fullname}, see {x.attr}"),
        ("template_forgot_token", "Dear {fullname}, a stray {"),
        ("template_welcome_token", "Dear {0}"),
        ("template_reg_notify", "From {unknown}"),
        ("template_reject", "Dear {fullname!r}"),
        ("subject_forgot_token", "Reset for {fullname:>100000000}"),
        ("subject_reject", "Sorry, {req_email}"),  # a placeholder of another mail
    ],
)
def test_a_mail_text_with_a_placeholder_its_mail_does_not_fill_is_refused(
    testapp, dbsession, admin, key, text
):
    target = setting(dbsession, key)
    before = target.value
    response = put_setting(testapp, admin, target.uuid, text, status=400)
    [item] = assert_api_error(response, 400, "ValidationError", field="value")
    assert key in item["message"]
    assert target.value == before


def test_a_mail_text_with_its_own_placeholders_and_doubled_braces_is_saved(
    testapp, dbsession, admin
):
    target = setting(dbsession, "template_forgot_token")
    text = "Hello {fullname}: {token_url} (valid {expiry_minutes} minutes) {{not a placeholder}}"
    put_setting(testapp, admin, target.uuid, text)
    assert target.value == text


def test_placeholder_braces_in_texts_other_than_mails_are_free(testapp, dbsession, admin):
    target = setting(dbsession, "renderer_page_title")
    put_setting(testapp, admin, target.uuid, "Portal {beta}")
    assert target.value == "Portal {beta}"


# POST /rpc/appsetting-preview

PREVIEW = "/api/v1/rpc/appsetting-preview"


def preview(testapp, headers, key, value, *, status=200):
    return testapp.post_json(PREVIEW, {"key": key, "value": value}, headers=headers, status=status)


def test_a_mail_preview_fills_sample_values_and_names_the_placeholders(testapp, admin):
    answer = preview(testapp, admin, "template_reject", "Dear {fullname}, {{sorry}}.").json
    assert answer == {"placeholders": ["fullname"], "text": "Dear Jane Doe, {sorry}.", "html": None}


def test_a_mail_preview_refuses_what_saving_refuses_in_the_same_words(testapp, dbsession, admin):
    previewed = preview(testapp, admin, "subject_reject", "Hi {token_url}", status=400)
    saved = put_setting(
        testapp, admin, setting(dbsession, "subject_reject").uuid, "Hi {token_url}", status=400
    )
    assert_api_error(previewed, 400, "ValidationError", field="value")
    assert previewed.json == saved.json


def test_an_html_preview_is_sanitized_as_the_pages_show_it(testapp, admin):
    html = '<b>Lab</b><script>alert(1)</script><a href="javascript:x()" onclick="y()">legal</a>'
    answer = preview(testapp, admin, "renderer_legal_notice", html).json
    assert answer["placeholders"] == [] and answer["text"] is None
    assert "<b>Lab</b>" in answer["html"]
    assert "script" not in answer["html"] and "javascript" not in answer["html"]
    assert "onclick" not in answer["html"]


def test_other_settings_have_nothing_to_preview(testapp, admin):
    answer = preview(testapp, admin, "security_lockout_window_minutes", "60").json
    assert answer == {"placeholders": [], "text": None, "html": None}


def test_previewing_saves_nothing(testapp, dbsession, admin):
    before = setting(dbsession, "template_reject").value
    preview(testapp, admin, "template_reject", "Changed {fullname}")
    assert setting(dbsession, "template_reject").value == before


def test_previewing_an_unknown_setting_is_refused(testapp, admin):
    assert_api_error(preview(testapp, admin, "no_such_key", "x", status=400), 400, field="key")


def test_previewing_needs_credentials(testapp):
    assert_api_error(
        testapp.post_json(PREVIEW, {"key": "subject_reject", "value": "x"}, status=401), 401
    )


@pytest.mark.parametrize(
    "roles",
    [{}, {"group_admin": True}, {"site_read": True}],
    ids=["regular", "group admin", "site read"],
)
def test_only_site_admins_preview_settings(testapp, dbsession, roles):
    headers = api_headers(make_api_key(dbsession, make_user(dbsession, **roles)))
    assert_api_error(preview(testapp, headers, "subject_reject", "x", status=403), 403)
