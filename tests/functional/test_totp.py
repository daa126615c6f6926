"""Two-factor authentication with TOTP: enrolment, the second login step, no bypass."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import webtest
from cryptography.fernet import Fernet
from pyramid.interfaces import ISessionFactory
from sqlalchemy import func, select, update

from datameta import configure
from datameta.config import settings_of
from datameta.logic.auth import LOGIN_FAILED
from datameta.logic.passwords import issue_token
from datameta.models import ApiKey, AppSetting, LoginAttempt, PasswordToken, TokenPurpose
from datameta.security.totp import decrypt_secret, encrypt_secret
from tests.conftest import TEST_INI
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_user
from tests.helpers import api_headers, assert_api_error, client_in_transaction, csrf_token, login

NEW_PASSWORD = "Brand-New-Secret-7"


@pytest.fixture(scope="module")
def tfa_app(dbengine):
    ini = TEST_INI | {
        "datameta.tfa.enabled": "true",
        "datameta.tfa.encrypt_key": Fernet.generate_key().decode(),
        "datameta.tfa.otp_issuer": "Test Site",
    }
    return configure(ini, dbengine=dbengine).make_wsgi_app()


@pytest.fixture
def client(tfa_app, tm, dbsession) -> webtest.TestApp:
    return client_in_transaction(tfa_app, tm, dbsession)


@pytest.fixture
def encrypt_key(tfa_app) -> str:
    return settings_of(tfa_app.registry).tfa_encrypt_key


@pytest.fixture
def enrolled(dbsession, encrypt_key):
    """A user with a second factor; ``enrolled.secret`` is what their app knows."""
    user = make_user(dbsession, email="enrolled@example.org")
    user.secret = pyotp.random_base32()
    user.tfa_secret_encrypted = encrypt_secret(user.secret, encrypt_key)
    dbsession.flush()
    return user


def code_for(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def wrong_code_for(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    valid = {totp.at(datetime.now(UTC) + timedelta(seconds=delta)) for delta in (-30, 0, 30)}
    return next(c for c in (f"{n:06d}" for n in range(1000000)) if c not in valid)


def submit_code(client, code: str, *, status: int | None = None):
    page = client.get("/tfa")
    token = page.html.find("input", {"name": "csrf_token"})["value"]
    return client.post("/tfa", {"code": code, "csrf_token": token}, status=status)


def attempts(db, user) -> int:
    count = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == user.id)
    return db.scalar(count)


# Enrolment, through the password reset


def reset_token(db, user) -> str:
    token = issue_token(db, user, TokenPurpose.PASSWORD_RESET, 10)
    db.flush()
    return token


def set_password(client, token: str):
    return client.post(
        f"/setpass/{token}",
        {
            "password": NEW_PASSWORD,
            "password_repeat": NEW_PASSWORD,
            "csrf_token": csrf_token(client),
        },
        status=302,
    )


def secret_on_page(page) -> str:
    return page.html.find(id="tfa-secret").text.strip()


def test_setting_a_password_leads_to_enrolment_and_then_to_login(client, dbsession, encrypt_key):
    user = make_user(dbsession, email="newbie@example.org")
    response = set_password(client, reset_token(dbsession, user))
    assert "/settfa/" in response.location

    page = response.follow()
    svg = page.html.find("div", class_="tfa-qr").find("svg")
    assert svg is not None, "the QR code is an inline SVG made on the server"
    secret = secret_on_page(page)
    assert page.html.find("input", {"name": "code"})["autocomplete"] == "one-time-code"
    # Until the user proves the app has it, the secret is not stored.
    assert user.tfa_secret_encrypted is None

    form = page.forms[0]
    form["code"] = code_for(secret)
    done = form.submit(status=302)
    assert done.location.endswith("/login")
    assert "Two-factor authentication is set up" in done.follow().text

    assert decrypt_secret(user.tfa_secret_encrypted, encrypt_key) == secret
    assert secret.encode() not in user.tfa_secret_encrypted
    remaining = select(PasswordToken).where(PasswordToken.user_id == user.id)
    assert dbsession.scalars(remaining).all() == []

    login(client, "newbie@example.org", NEW_PASSWORD)
    submit_code(client, code_for(secret), status=302)
    assert client.get("/home").status_int == 200


def test_the_enrolment_page_keeps_its_secret_until_it_is_proven(client, dbsession):
    user = make_user(dbsession)
    location = set_password(client, reset_token(dbsession, user)).location
    assert secret_on_page(client.get(location)) == secret_on_page(client.get(location))


def test_a_wrong_enrolment_code_is_refused_at_its_field(client, dbsession):
    user = make_user(dbsession)
    page = set_password(client, reset_token(dbsession, user)).follow()
    form = page.forms[0]
    form["code"] = wrong_code_for(secret_on_page(page))
    response = form.submit(status=400)
    assert "not correct" in response.html.find(id="code-error").text
    assert user.tfa_secret_encrypted is None


def test_enrolling_from_another_browser_starts_with_a_new_secret(client, dbsession, tfa_app, tm):
    user = make_user(dbsession)
    page = set_password(client, reset_token(dbsession, user)).follow()
    other = client_in_transaction(tfa_app, tm, dbsession)
    token = csrf_token(other)
    response = other.post(
        page.request.path,
        {"code": code_for(secret_on_page(page)), "csrf_token": token},
        status=400,
    )
    assert response.html.find(id="code-error") is not None
    assert secret_on_page(response) != secret_on_page(page)
    assert user.tfa_secret_encrypted is None


def test_an_unknown_enrolment_link_is_404(client):
    assert "not valid" in client.get("/settfa/" + "x" * 64, status=404).text


def test_an_expired_enrolment_link_is_410(client, dbsession):
    user = make_user(dbsession)
    token = issue_token(dbsession, user, TokenPurpose.TFA_SETUP, 10)
    dbsession.execute(
        update(PasswordToken)
        .where(PasswordToken.user_id == user.id)
        .values(expires=datetime.now(UTC) - timedelta(seconds=1))
    )
    assert "expired" in client.get(f"/settfa/{token}", status=410).text


def test_without_tfa_there_is_no_enrolment_page(testapp, dbsession):
    user = make_user(dbsession)
    token = issue_token(dbsession, user, TokenPurpose.TFA_SETUP, 10)
    dbsession.flush()
    testapp.get(f"/settfa/{token}", status=404)


def test_the_api_answers_the_enrolment_token_after_a_reset(client, dbsession):
    user = make_user(dbsession)
    response = client.put_json(
        "/api/v1/users/0/password",
        {"passwordChangeCredential": reset_token(dbsession, user), "newPassword": NEW_PASSWORD},
    )
    tfa_token = response.json["tfaToken"]
    assert len(tfa_token) == 64
    assert client.get(f"/settfa/{tfa_token}").html.find("svg") is not None


def test_an_enrolled_user_gets_no_enrolment_token(client, dbsession, enrolled):
    response = client.put_json(
        "/api/v1/users/0/password",
        {"passwordChangeCredential": reset_token(dbsession, enrolled), "newPassword": NEW_PASSWORD},
    )
    assert response.json == {"tfaToken": ""}


# Logging in with the second factor


def test_the_right_password_leads_to_the_code_form_not_into_the_site(client, enrolled):
    response = login(client, enrolled.email, DEFAULT_PASSWORD)
    assert response.location.endswith("/tfa")
    assert client.get("/home").status_int == 302
    page = client.get("/tfa")
    code = page.html.find("input", {"name": "code"})
    assert code["autocomplete"] == "one-time-code"
    assert code["inputmode"] == "numeric"
    assert page.html.find("label", {"for": "code"}) is not None


def test_the_right_code_completes_the_login(client, tfa_app, enrolled):
    login(client, enrolled.email, DEFAULT_PASSWORD)
    response = submit_code(client, code_for(enrolled.secret), status=302)
    assert response.location.endswith("/home")
    assert client.get("/home").status_int == 200
    factory = tfa_app.registry.getUtility(ISessionFactory)
    session_id = factory.serializer.loads(client.cookies["datameta"].encode())
    assert tfa_app.registry["session_store"].load(session_id)["tfa_passed"] is True


def test_the_login_goes_back_where_it_came_from_after_both_steps(client, enrolled):
    page = client.get("/account", status=302).follow()
    form = page.forms[0]
    form["email"] = enrolled.email
    form["password"] = DEFAULT_PASSWORD
    form.submit(status=302)
    response = submit_code(client, code_for(enrolled.secret), status=302)
    assert response.location.endswith("/account")


def test_a_wrong_code_counts_as_a_failed_login(client, dbsession, enrolled):
    login(client, enrolled.email, DEFAULT_PASSWORD)
    response = submit_code(client, wrong_code_for(enrolled.secret), status=400)
    assert "not correct" in response.html.find(id="code-error").text
    assert attempts(dbsession, enrolled) == 1
    assert client.get("/home").status_int == 302


def test_wrong_codes_lock_the_account_like_wrong_passwords(client, dbsession, enrolled):
    setting = select(AppSetting).where(AppSetting.key == "security_max_failed_login_attempts")
    dbsession.scalar(setting).value = 2
    login(client, enrolled.email, DEFAULT_PASSWORD)
    submit_code(client, wrong_code_for(enrolled.secret), status=400)
    response = submit_code(client, wrong_code_for(enrolled.secret), status=302)
    assert response.location.endswith("/login")
    assert LOGIN_FAILED in response.follow().text
    assert enrolled.locked_until is not None
    assert enrolled.enabled
    response = login(client, enrolled.email, DEFAULT_PASSWORD, status=400)


def test_the_code_form_needs_the_password_step_first(client):
    response = client.get("/tfa", status=302)
    assert response.location.endswith("/login")


def test_the_second_step_must_follow_within_five_minutes(client, tfa_app, enrolled):
    login(client, enrolled.email, DEFAULT_PASSWORD)
    store = tfa_app.registry["session_store"]
    factory = tfa_app.registry.getUtility(ISessionFactory)
    session_id = factory.serializer.loads(client.cookies["datameta"].encode())
    data = store.load(session_id)
    data["preauth_until"] = time.time() - 1
    store.save(session_id, data, 60)
    token = data["_csrft_"]
    response = client.post(
        "/tfa", {"code": code_for(enrolled.secret), "csrf_token": token}, status=302
    )
    assert response.location.endswith("/login")
    assert "five minutes" in response.follow().text
    assert client.get("/home").status_int == 302


def test_a_user_without_a_second_factor_is_told_to_reset_the_password(client, dbsession):
    user = make_user(dbsession)
    response = login(client, user.email, DEFAULT_PASSWORD, status=400)
    assert "Reset your password" in response.text
    assert response.html.find("a", href="/forgot") is not None
    assert client.get("/tfa", status=302).location.endswith("/login")


# No bypass through the API


def test_email_and_password_alone_create_no_api_key(client, dbsession, enrolled):
    body = {"label": "bypass", "email": enrolled.email, "password": DEFAULT_PASSWORD}
    response = client.post_json("/api/v1/keys", body, status=403)
    assert_api_error(response, 403, "AccessDenied")
    keys = select(func.count()).select_from(ApiKey).where(ApiKey.user_id == enrolled.id)
    assert dbsession.scalar(keys) == 0


def test_the_refusal_does_not_tell_whether_the_password_was_right(client, enrolled):
    body = {"label": "bypass", "email": enrolled.email, "password": "Wrong-Pass-1"}
    assert_api_error(client.post_json("/api/v1/keys", body, status=403), 403, "AccessDenied")


def test_half_a_login_does_not_create_keys(client, enrolled):
    login(client, enrolled.email, DEFAULT_PASSWORD)
    headers = {"X-CSRF-Token": csrf_token(client)}
    body = {"label": "half", "email": enrolled.email, "password": DEFAULT_PASSWORD}
    client.post_json("/api/v1/keys", body, headers=headers, status=403)
    client.post_json("/api/v1/keys", {"label": "half"}, headers=headers, status=401)


def test_a_session_that_passed_both_factors_creates_keys(client, enrolled):
    login(client, enrolled.email, DEFAULT_PASSWORD)
    submit_code(client, code_for(enrolled.secret), status=302)
    response = client.post_json(
        "/api/v1/keys", {"label": "ok"}, headers={"X-CSRF-Token": csrf_token(client)}
    )
    assert response.json["userId"]["uuid"] == str(enrolled.uuid)


def test_an_api_key_creates_keys_with_tfa_on(client, dbsession, enrolled):
    headers = api_headers(make_api_key(dbsession, enrolled))
    assert client.post_json("/api/v1/keys", {"label": "ok"}, headers=headers).status_int == 200


# Admins reset a second factor


def delete_secret(client, actor_key: str, user_id: str, status: int):
    return client.delete(
        f"/api/v1/users/{user_id}/totp-secret", headers=api_headers(actor_key), status=status
    )


def test_a_site_admin_resets_a_second_factor(client, dbsession, enrolled):
    admin = make_user(dbsession, site_admin=True)
    delete_secret(client, make_api_key(dbsession, admin), enrolled.site_id, 200)
    assert enrolled.tfa_secret_encrypted is None
    assert "Reset your password" in login(client, enrolled.email, DEFAULT_PASSWORD, status=400).text


@pytest.mark.parametrize("role", ["self", "group_admin"])
def test_others_may_not_reset_a_second_factor(client, dbsession, enrolled, role):
    actor = (
        enrolled if role == "self" else make_user(dbsession, group=enrolled.group, group_admin=True)
    )
    response = delete_secret(client, make_api_key(dbsession, actor), str(enrolled.uuid), 403)
    assert_api_error(response, 403, "AccessDenied")
    assert enrolled.tfa_secret_encrypted is not None


# That an unknown user is 404 is stated for every operation in test_visibility.py.


# The account page with TFA on


def test_changing_the_password_keeps_this_browser_logged_in_with_both_factors(client, enrolled):
    login(client, enrolled.email, DEFAULT_PASSWORD)
    submit_code(client, code_for(enrolled.secret), status=302)
    form = client.get("/account").forms["change-password"]
    form["old_password"] = DEFAULT_PASSWORD
    form["new_password"] = NEW_PASSWORD
    form["new_password_repeat"] = NEW_PASSWORD
    assert form.submit(status=302).location.endswith("/account")
    response = client.post_json(
        "/api/v1/keys", {"label": "after"}, headers={"X-CSRF-Token": csrf_token(client)}
    )
    assert response.status_int == 200
