"""Logging in and out through the pages; sessions live in memcached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import webtest
from pyramid.interfaces import ISessionFactory
from sqlalchemy import func, select

from datameta.logic.auth import LOGIN_FAILED
from datameta.models import LoginAttempt
from datameta.views.auth import safe_next
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_group, make_user
from tests.helpers import api_headers, assert_api_error, client_in_transaction, csrf_token, login


def session_data(app, client: webtest.TestApp) -> dict | None:
    """What memcached holds for the session named by ``client``'s cookie."""
    factory = app.registry.getUtility(ISessionFactory)
    cookie = client.cookies.get(factory.cookie_name)
    if cookie is None:
        return None
    session_id = factory.serializer.loads(cookie.strip('"').encode())
    return app.registry["session_store"].load(session_id)


def failed_attempts(db, user) -> int:
    return db.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == user.id)
    )


# The form


def test_the_login_form_asks_for_email_and_password_and_links_onwards(testapp):
    page = testapp.get("/login")
    form = page.forms[0]
    assert {"email", "password", "csrf_token"} <= set(form.fields)
    assert page.html.find("input", {"name": "password"})["type"] == "password"
    assert page.html.find("label", {"for": "email"}) is not None
    assert page.html.find("a", href="/register") is not None
    assert page.html.find("a", href="/forgot") is not None


def test_the_right_password_logs_in_and_opens_the_start_page(testapp, dbsession):
    user = make_user(dbsession, fullname="Lia Login")
    response = login(testapp, user.email, DEFAULT_PASSWORD)
    assert response.location.endswith("/home")
    assert "Welcome back, Lia Login" in testapp.get("/home").text


def test_the_email_is_matched_regardless_of_case_and_surrounding_spaces(testapp, dbsession):
    user = make_user(dbsession, email="casey@example.org")
    login(testapp, "  Casey@Example.ORG ", DEFAULT_PASSWORD)
    assert testapp.get("/home").status_int == 200
    assert user.enabled


def test_a_wrong_password_shows_the_form_again_with_the_message_at_the_field(testapp, dbsession):
    user = make_user(dbsession)
    response = login(testapp, user.email, "Wrong-Password-1", status=400)
    error = response.html.find(id="password-error")
    assert error is not None and LOGIN_FAILED in error.text
    assert response.html.find("input", {"name": "email"})["value"] == user.email
    assert "Wrong-Password-1" not in response.text
    assert testapp.get("/home").status_int == 302


def test_missing_fields_are_named_at_the_fields(testapp):
    token = csrf_token(testapp)
    response = testapp.post("/login", {"csrf_token": token}, status=400)
    assert response.html.find(id="email-error") is not None
    assert response.html.find(id="password-error") is not None


def test_an_unknown_email_looks_exactly_like_a_wrong_password(testapp, dbsession):
    user = make_user(dbsession, email="known@example.org")
    wrong_password = login(testapp, user.email, "Wrong-Password-1", status=400)
    unknown_email = login(testapp, "nobody@example.org", "Wrong-Password-1", status=400)
    assert wrong_password.status == unknown_email.status
    assert wrong_password.text.replace(user.email, "EMAIL") == unknown_email.text.replace(
        "nobody@example.org", "EMAIL"
    )


def test_a_disabled_account_looks_like_a_wrong_password(testapp, dbsession):
    user = make_user(dbsession, enabled=False)
    response = login(testapp, user.email, DEFAULT_PASSWORD, status=400)
    assert LOGIN_FAILED in response.html.find(id="password-error").text


def test_a_user_without_a_password_cannot_log_in(testapp, dbsession):
    user = make_user(dbsession)
    user.pwhash = None
    dbsession.flush()
    login(testapp, user.email, DEFAULT_PASSWORD, status=400)


def test_logging_in_without_the_csrf_token_is_refused(testapp, dbsession):
    user = make_user(dbsession)
    testapp.get("/login")
    response = testapp.post(
        "/login", {"email": user.email, "password": DEFAULT_PASSWORD}, status=400
    )
    assert "The form has expired" in response.text
    assert testapp.get("/home").status_int == 302


# Going back where one came from


def test_a_page_that_needs_login_sends_there_and_back(testapp, dbsession):
    user = make_user(dbsession)
    response = testapp.get("/account?tab=keys", status=302)
    assert response.location.endswith("/login?next=%2Faccount%3Ftab%3Dkeys")
    page = response.follow()
    form = page.forms[0]
    assert form["next"].value == "/account?tab=keys"
    form["email"] = user.email
    form["password"] = DEFAULT_PASSWORD
    after_login = form.submit(status=302)
    assert after_login.location.endswith("/account?tab=keys")
    assert after_login.follow().status_int == 200


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/phish",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "account",
        "",
    ],
)
def test_login_never_sends_anyone_to_another_site(testapp, dbsession, target):
    user = make_user(dbsession)
    token = csrf_token(testapp)
    response = testapp.post(
        "/login",
        {"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": token, "next": target},
        status=302,
    )
    assert response.location == "http://localhost/home"


def test_safe_targets_are_local_paths_only():
    assert safe_next("/view?x=1") == "/view?x=1"
    assert safe_next("//evil.example") is None
    assert safe_next("/ok\r\nSet-Cookie: x") is None
    assert safe_next(None) is None


def test_a_logged_in_user_opening_the_login_page_is_told_so(testapp, dbsession):
    user = make_user(dbsession, fullname="Already There")
    login(testapp, user.email, DEFAULT_PASSWORD)
    page = testapp.get("/login")
    assert "You are logged in as Already There" in page.text
    assert page.html.find("a", href="/home") is not None
    assert testapp.get("/login?next=/account", status=302).location.endswith("/account")


# Sessions


def test_the_session_lives_in_memcached_and_the_cookie_holds_only_its_id(app, testapp, dbsession):
    user = make_user(dbsession)
    response = login(testapp, user.email, DEFAULT_PASSWORD)
    set_cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    data = session_data(app, testapp)
    assert data["user_id"] == user.id
    assert data["tfa_passed"] is True
    # All the cookie carries is the signed random id under which memcached keeps the data
    # (a check that the user's id is absent from it failed whenever the random id held
    # the same digits).
    factory = app.registry.getUtility(ISessionFactory)
    session_id = factory.serializer.loads(testapp.cookies[factory.cookie_name].strip('"').encode())
    assert isinstance(session_id, str) and len(session_id) == 43  # 32 random bytes, base64
    assert app.registry["session_store"].load(session_id) == data


def test_logging_in_starts_a_new_session_id(app, testapp, dbsession):
    user = make_user(dbsession)
    testapp.get("/login")
    before = testapp.cookies["datameta"]
    login(testapp, user.email, DEFAULT_PASSWORD)
    assert testapp.cookies["datameta"] != before


def test_logging_out_ends_the_session_in_memcached(app, testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    old_cookie = testapp.cookies["datameta"]
    home = testapp.get("/home")
    form = home.html.find("form", action="/logout")
    token = form.find("input", {"name": "csrf_token"})["value"]
    response = testapp.post("/logout", {"csrf_token": token}, status=302)
    assert response.location.endswith("/login")
    assert "You have been logged out." in response.follow().text
    assert testapp.get("/home").status_int == 302
    # The old cookie names a session memcached no longer has.
    testapp.set_cookie("datameta", old_cookie)
    assert session_data(app, testapp) is None
    assert testapp.get("/home").status_int == 302


def test_logging_out_needs_the_csrf_token(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    testapp.post("/logout", status=400)
    assert testapp.get("/home").status_int == 200


@pytest.mark.parametrize("change", ["disable", "move_group"])
def test_a_session_ends_when_the_account_is_disabled_or_moved(testapp, dbsession, change):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    if change == "disable":
        user.enabled = False
    else:
        user.group = make_group(dbsession)
    dbsession.flush()
    assert testapp.get("/home", status=302).location.endswith("/login?next=%2Fhome")


def test_two_browsers_have_separate_sessions(app, testapp, dbsession, tm):
    first = make_user(dbsession, fullname="First Browser")
    second = make_user(dbsession, fullname="Second Browser")
    other = client_in_transaction(app, tm, dbsession)
    login(testapp, first.email, DEFAULT_PASSWORD)
    login(other, second.email, DEFAULT_PASSWORD)
    assert "First Browser" in testapp.get("/home").text
    assert "Second Browser" in other.get("/home").text


# API identity


def test_whoami_answers_the_caller_by_session_or_by_api_key(testapp, dbsession):
    group = make_group(dbsession, "Whoami Lab")
    user = make_user(dbsession, group=group, fullname="Wendy Who", group_admin=True)
    by_key = testapp.get("/api/v1/rpc/whoami", headers=api_headers(make_api_key(dbsession, user)))
    assert by_key.json == {
        "id": {"uuid": str(user.uuid), "site": user.site_id},
        "name": "Wendy Who",
        "groupAdmin": True,
        "siteAdmin": False,
        "siteRead": False,
        "email": user.email,
        "group": {"id": {"uuid": str(group.uuid), "site": group.site_id}, "name": "Whoami Lab"},
    }
    login(testapp, user.email, DEFAULT_PASSWORD)
    assert testapp.get("/api/v1/rpc/whoami").json == by_key.json


def test_whoami_without_credentials_is_401(testapp):
    assert_api_error(testapp.get("/api/v1/rpc/whoami", status=401), 401, "Unauthenticated")


def test_an_expired_api_key_is_401_and_is_no_failed_login(testapp, dbsession):
    user = make_user(dbsession)
    token = make_api_key(dbsession, user, expires=datetime.now(UTC) - timedelta(seconds=1))
    for _ in range(8):
        response = testapp.get("/api/v1/rpc/whoami", headers=api_headers(token), status=401)
        assert_api_error(response, 401, "Unauthenticated")
    assert failed_attempts(dbsession, user) == 0
    assert user.locked_until is None
    login(testapp, user.email, DEFAULT_PASSWORD)
