"""Forgotten passwords: the mailed link, setting a new password, and the API for both."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from datameta.logic.passwords import issue_token
from datameta.models import LoginAttempt, PasswordToken, TokenPurpose
from datameta.security.tokens import hash_token
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_user
from tests.helpers import api_headers, assert_api_error, client_in_transaction, csrf_token, login

NEW_PASSWORD = "Brand-New-Secret-7"
LINK = re.compile(r"http://localhost/setpass/([A-Za-z0-9]+)")


def post_form(client, url: str, fields: dict, *, status: int | None = None):
    """Submit a form the way a browser does: open the page, then post with its CSRF token."""
    return client.post(url, {**fields, "csrf_token": csrf_token(client)}, status=status)


def link_token(mailbox, mail) -> str:
    match = LINK.search(mailbox.body(mail))
    assert match, mailbox.body(mail)
    return match.group(1)


def reset_token(db, user, *, minutes: int = 10) -> str:
    token = issue_token(db, user, TokenPurpose.PASSWORD_RESET, minutes)
    db.flush()
    return token


def set_new_password(
    client, token: str, password: str = NEW_PASSWORD, repeat: str | None = None, **kw
):
    return post_form(
        client,
        f"/setpass/{token}",
        {"password": password, "password_repeat": password if repeat is None else repeat},
        **kw,
    )


# Asking for a link


def test_a_forgotten_password_is_reset_through_the_mailed_link(live_app, committed_db, mailbox):
    user = make_user(committed_db, email="forgetful@example.org", fullname="Fay Forgetful")
    committed_db.commit()
    page = post_form(live_app, "/forgot", {"email": "Forgetful@example.org"}, status=200)
    assert "If an account with this email address exists" in page.text

    [mail] = mailbox.received("forgetful@example.org")
    assert mail["Subject"] == "Your DataMeta password reset"
    body = mailbox.body(mail)
    assert "Dear Fay Forgetful" in body
    assert "within 10 minutes" in body
    token = link_token(mailbox, mail)

    form_page = live_app.get(f"/setpass/{token}")
    assert {"password", "password_repeat"} <= set(form_page.forms[0].fields)
    response = set_new_password(live_app, token, status=302)
    assert response.location.endswith("/login")
    assert "Your password has been set" in response.follow().text

    login(live_app, "forgetful@example.org", DEFAULT_PASSWORD, status=400)
    login(live_app, "forgetful@example.org", NEW_PASSWORD)
    assert live_app.get("/home").status_int == 200
    assert user.email == "forgetful@example.org"


def test_a_link_works_once(live_app, committed_db, mailbox):
    make_user(committed_db, email="once@example.org")
    committed_db.commit()
    post_form(live_app, "/forgot", {"email": "once@example.org"})
    token = link_token(mailbox, mailbox.received("once@example.org")[0])
    set_new_password(live_app, token, status=302)
    assert live_app.get(f"/setpass/{token}", status=404).status_int == 404


def test_an_unknown_email_gets_the_same_answer_and_no_mail(live_app, committed_db, mailbox):
    make_user(committed_db, email="someone@example.org")
    committed_db.commit()
    known = post_form(live_app, "/forgot", {"email": "someone@example.org"}, status=200)
    unknown = post_form(live_app, "/forgot", {"email": "no-one@example.org"}, status=200)
    assert known.text.replace("someone@", "X@") == unknown.text.replace("no-one@", "X@")
    assert len(mailbox.received("someone@example.org")) == 1
    mailbox.settle()
    assert mailbox.to("no-one@example.org") == []


def test_a_disabled_account_gets_no_link(live_app, committed_db, mailbox):
    make_user(committed_db, email="disabled@example.org", enabled=False)
    committed_db.commit()
    post_form(live_app, "/forgot", {"email": "disabled@example.org"}, status=200)
    mailbox.settle()
    assert mailbox.to("disabled@example.org") == []


def expire_tokens(db) -> None:
    db.execute(update(PasswordToken).values(expires=datetime.now(UTC) - timedelta(minutes=1)))


def stored_tokens(db) -> list[tuple]:
    rows = db.execute(select(PasswordToken.token_hash, PasswordToken.expires).order_by("id"))
    return [tuple(row) for row in rows]


def expired_link(db, email: str) -> str:
    """A committed user whose one reset link has expired; returns that link's token."""
    user = make_user(db, email=email)
    db.flush()
    token = reset_token(db, user)
    expire_tokens(db)
    db.commit()
    return token


def test_opening_an_expired_link_changes_nothing_and_mails_nothing(live_app, committed_db, mailbox):
    # Mail systems open links to scan them: opening one must not act.
    old_token = expired_link(committed_db, "late@example.org")
    before = stored_tokens(committed_db)

    page = live_app.get(f"/setpass/{old_token}", status=410)

    assert "This link has expired" in page.text
    form = page.forms["renew-link"]
    assert form.method.lower() == "post"
    assert form.action == f"/setpass/{old_token}/renew"
    assert "csrf_token" in form.fields
    committed_db.rollback()
    assert stored_tokens(committed_db) == before
    mailbox.settle()
    assert mailbox.to("late@example.org") == []


def test_the_button_on_an_expired_link_mails_one_fresh_link(live_app, committed_db, mailbox):
    old_token = expired_link(committed_db, "late@example.org")

    page = live_app.get(f"/setpass/{old_token}", status=410).forms["renew-link"].submit(status=200)

    assert "We have mailed you a new link" in page.text
    [mail] = mailbox.received("late@example.org")
    mailbox.settle()
    assert len(mailbox.to("late@example.org")) == 1
    fresh_token = link_token(mailbox, mail)
    assert fresh_token != old_token
    live_app.get(f"/setpass/{old_token}", status=404)
    set_new_password(live_app, fresh_token, status=302)
    login(live_app, "late@example.org", NEW_PASSWORD)


def test_setting_a_password_with_an_expired_link_offers_the_button_and_mails_nothing(
    live_app, committed_db, mailbox
):
    user = make_user(committed_db, email="late@example.org")
    committed_db.flush()
    old_token = reset_token(committed_db, user)
    committed_db.commit()
    form_page = live_app.get(f"/setpass/{old_token}")
    expire_tokens(committed_db)
    committed_db.commit()

    form = form_page.forms[0]
    form["password"] = form["password_repeat"] = NEW_PASSWORD
    page = form.submit(status=410)

    assert "renew-link" in page.forms
    mailbox.settle()
    assert mailbox.to("late@example.org") == []


def test_renewing_needs_the_csrf_token(live_app, committed_db, mailbox):
    old_token = expired_link(committed_db, "late@example.org")
    live_app.get(f"/setpass/{old_token}", status=410)

    live_app.post(f"/setpass/{old_token}/renew", status=400)

    mailbox.settle()
    assert mailbox.to("late@example.org") == []


def test_renewing_a_link_that_still_works_leads_to_its_form(testapp, dbsession):
    token = reset_token(dbsession, make_user(dbsession))
    response = post_form(testapp, f"/setpass/{token}/renew", {}, status=302)
    assert response.location.endswith(f"/setpass/{token}")


def test_renewing_an_unknown_link_is_an_error_page(testapp):
    response = post_form(testapp, "/setpass/" + "x" * 64 + "/renew", {}, status=404)
    assert "This link is not valid" in response.text


def test_the_expired_link_of_a_disabled_account_is_not_renewed(testapp, dbsession):
    user = make_user(dbsession, enabled=False)
    token = reset_token(dbsession, user)
    expire_tokens(dbsession)
    response = post_form(testapp, f"/setpass/{token}/renew", {}, status=404)
    assert "This link is not valid" in response.text
    assert stored_tokens(dbsession)[0][0] == hash_token(token)


def test_a_link_cannot_be_renewed_by_opening_the_renewal_address(testapp, dbsession):
    user = make_user(dbsession)
    token = reset_token(dbsession, user)
    expire_tokens(dbsession)
    testapp.get(f"/setpass/{token}/renew", status=404)


def test_asking_needs_an_email(testapp):
    response = post_form(testapp, "/forgot", {"email": " "}, status=400)
    assert response.html.find(id="email-error") is not None


def test_asking_needs_the_csrf_token(testapp):
    testapp.get("/forgot")
    testapp.post("/forgot", {"email": "x@example.org"}, status=400)


def test_reset_tokens_are_stored_only_as_hashes(testapp, dbsession):
    user = make_user(dbsession)
    token = reset_token(dbsession, user)
    assert len(token) == 64
    stored = dbsession.scalar(select(PasswordToken).where(PasswordToken.user_id == user.id))
    assert stored.token_hash == hash_token(token)
    assert stored.purpose is TokenPurpose.PASSWORD_RESET


# Setting the password


def test_an_unknown_link_shows_an_error_page(testapp):
    response = testapp.get("/setpass/" + "x" * 64, status=404)
    assert "This link is not valid" in response.text
    assert "password" not in {field for form in response.forms.values() for field in form.fields}


def test_the_two_passwords_must_match(testapp, dbsession):
    token = reset_token(dbsession, make_user(dbsession))
    response = set_new_password(testapp, token, repeat="Something-Else-1", status=400)
    assert "do not match" in response.html.find(id="password_repeat-error").text


def test_a_weak_password_is_refused_at_its_field(testapp, dbsession):
    token = reset_token(dbsession, make_user(dbsession))
    response = set_new_password(testapp, token, "weak", status=400)
    error = response.html.find(id="password-error").text
    assert "at least 10 characters" in error
    assert "upper-case" in error


def test_a_password_used_before_is_refused(testapp, dbsession):
    token = reset_token(dbsession, make_user(dbsession))
    response = set_new_password(testapp, token, DEFAULT_PASSWORD, status=400)
    assert "already been used" in response.html.find(id="password-error").text


def test_a_reset_ends_every_session_of_the_user(testapp, dbsession, app, tm):
    user = make_user(dbsession)
    other_browser = client_in_transaction(app, tm, dbsession)
    login(other_browser, user.email, DEFAULT_PASSWORD)
    set_new_password(testapp, reset_token(dbsession, user), status=302)
    assert other_browser.get("/home").status_int == 302


def test_a_reset_ends_a_lockout(testapp, dbsession):
    user = make_user(dbsession)
    user.locked_until = datetime.now(UTC) + timedelta(minutes=10)
    dbsession.add(LoginAttempt(user_id=user.id))
    dbsession.flush()
    set_new_password(testapp, reset_token(dbsession, user), status=302)
    login(testapp, user.email, NEW_PASSWORD)
    count = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == user.id)
    assert dbsession.scalar(count) == 0


# The API: PUT /users/{id}/password


def put_password(client, user_id: str, credential: str, new: str, *, headers=None, status=200):
    return client.put_json(
        f"/api/v1/users/{user_id}/password",
        {"passwordChangeCredential": credential, "newPassword": new},
        headers=headers or {},
        status=status,
    )


def test_user_zero_takes_a_reset_token(testapp, dbsession):
    user = make_user(dbsession)
    token = reset_token(dbsession, user)
    assert put_password(testapp, "0", token, NEW_PASSWORD).json == {"tfaToken": ""}
    login(testapp, user.email, NEW_PASSWORD)
    assert dbsession.scalar(select(PasswordToken).where(PasswordToken.user_id == user.id)) is None


def test_an_unknown_reset_token_is_404(testapp):
    response = put_password(testapp, "0", "x" * 64, NEW_PASSWORD, status=404)
    assert_api_error(response, 404, "NotFound")


def test_an_expired_reset_token_is_410(testapp, dbsession):
    user = make_user(dbsession)
    token = reset_token(dbsession, user)
    dbsession.execute(
        update(PasswordToken)
        .where(PasswordToken.user_id == user.id)
        .values(expires=datetime.now(UTC) - timedelta(seconds=1))
    )
    response = put_password(testapp, "0", token, NEW_PASSWORD, status=410)
    assert_api_error(response, 410, "Gone")


@pytest.mark.parametrize("password", ["short", DEFAULT_PASSWORD])
def test_policy_problems_are_400_at_new_password(testapp, dbsession, password):
    token = reset_token(dbsession, make_user(dbsession))
    response = put_password(testapp, "0", token, password, status=400)
    assert_api_error(response, 400, "ValidationError", field="newPassword")


def test_users_change_their_own_password_with_the_old_one(testapp, dbsession):
    user = make_user(dbsession)
    headers = api_headers(make_api_key(dbsession, user))
    response = put_password(testapp, user.site_id, DEFAULT_PASSWORD, NEW_PASSWORD, headers=headers)
    assert response.json == {"tfaToken": ""}
    login(testapp, user.email, NEW_PASSWORD)


def test_a_wrong_old_password_is_403(testapp, dbsession):
    user = make_user(dbsession)
    headers = api_headers(make_api_key(dbsession, user))
    response = put_password(
        testapp, str(user.uuid), "Not-The-Old-1", NEW_PASSWORD, headers=headers, status=403
    )
    assert_api_error(response, 403)
    login(testapp, user.email, DEFAULT_PASSWORD)


@pytest.mark.parametrize("target", ["someone_else", "unknown"])
def test_nobody_changes_the_password_of_another_user(testapp, dbsession, target):
    caller = make_user(dbsession, site_admin=True)
    other = make_user(dbsession)
    user_id = str(other.uuid) if target == "someone_else" else "DMU-99999999"
    headers = api_headers(make_api_key(dbsession, caller))
    response = put_password(
        testapp, user_id, DEFAULT_PASSWORD, NEW_PASSWORD, headers=headers, status=403
    )
    assert_api_error(response, 403, "AccessDenied")


def test_changing_a_password_needs_credentials_unless_with_a_token(testapp, dbsession):
    user = make_user(dbsession)
    response = put_password(testapp, str(user.uuid), DEFAULT_PASSWORD, NEW_PASSWORD, status=401)
    assert_api_error(response, 401, "Unauthenticated")


def test_a_password_change_by_session_ends_that_session_too(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    put_password(
        testapp,
        str(user.uuid),
        DEFAULT_PASSWORD,
        NEW_PASSWORD,
        headers={"X-CSRF-Token": csrf_token(testapp)},
    )
    assert testapp.get("/api/v1/rpc/whoami", status=401).status_int == 401
