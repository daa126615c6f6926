"""Too many failed logins lock an account for a while: never for good, never disabled."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from datameta.logic.auth import LOGIN_FAILED, WRONG_CURRENT_CREDENTIAL
from datameta.models import LoginAttempt, User
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_group, make_user, set_app_setting
from tests.helpers import api_headers, assert_api_error, login

WRONG = "Wrong-Password-1"


@pytest.fixture
def limit(dbsession) -> int:
    """Three failures within the window lock the account (the default is five)."""
    set_app_setting(dbsession, "security_max_failed_login_attempts", 3)
    return 3


def attempts(db, user) -> int:
    return db.scalar(
        select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == user.id)
    )


def fail(testapp, user, times: int) -> None:
    for _ in range(times):
        login(testapp, user.email, WRONG, status=400)


def test_each_wrong_password_is_counted(testapp, dbsession, limit):
    user = make_user(dbsession)
    fail(testapp, user, limit - 1)
    assert attempts(dbsession, user) == limit - 1
    assert user.locked_until is None


def test_reaching_the_limit_locks_the_account_and_logs_it(testapp, dbsession, limit, caplog):
    user = make_user(dbsession, email="target@example.org")
    with caplog.at_level(logging.WARNING, logger="datameta.security"):
        fail(testapp, user, limit)
    dbsession.flush()
    assert user.locked_until is not None
    expected_end = datetime.now(UTC) + timedelta(minutes=15)
    assert abs((user.locked_until - expected_end).total_seconds()) < 60
    record = next(r for r in caplog.records if getattr(r, "event", None) == "lockout")
    assert record.levelno == logging.WARNING
    assert "target@example.org" in record.getMessage()
    assert "locked" in record.getMessage()


def test_a_locked_account_refuses_the_right_password_with_the_same_message(
    testapp, dbsession, limit
):
    user = make_user(dbsession)
    fail(testapp, user, limit)
    response = login(testapp, user.email, DEFAULT_PASSWORD, status=400)
    assert LOGIN_FAILED in response.html.find(id="password-error").text
    assert testapp.get("/home").status_int == 302


def test_a_locked_account_looks_like_an_unknown_email(testapp, dbsession, limit):
    user = make_user(dbsession, email="locked@example.org")
    fail(testapp, user, limit)
    locked = login(testapp, user.email, DEFAULT_PASSWORD, status=400)
    unknown = login(testapp, "ghost@example.org", DEFAULT_PASSWORD, status=400)
    assert locked.text.replace(user.email, "X") == unknown.text.replace("ghost@example.org", "X")


def test_the_lockout_ends_by_itself_and_never_disables_the_account(testapp, dbsession, limit):
    user = make_user(dbsession)
    fail(testapp, user, limit)
    dbsession.flush()
    assert user.enabled
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    dbsession.flush()
    login(testapp, user.email, DEFAULT_PASSWORD)
    assert testapp.get("/home").status_int == 200
    dbsession.flush()
    assert user.enabled and user.locked_until is None


def test_after_the_cooldown_the_user_has_every_try_again(testapp, dbsession, limit):
    user = make_user(dbsession)
    fail(testapp, user, limit)
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    dbsession.flush()
    fail(testapp, user, 1)
    dbsession.flush()
    assert not (user.locked_until and user.locked_until > datetime.now(UTC))
    login(testapp, user.email, DEFAULT_PASSWORD)


def test_guessing_while_locked_does_not_prolong_the_lockout(testapp, dbsession, limit):
    user = make_user(dbsession)
    fail(testapp, user, limit)
    dbsession.flush()
    locked_until = user.locked_until
    fail(testapp, user, limit * 2)
    dbsession.flush()
    assert user.locked_until == locked_until


def test_failures_older_than_the_window_do_not_count(testapp, dbsession, limit):
    user = make_user(dbsession)
    long_ago = datetime.now(UTC) - timedelta(minutes=61)
    for _ in range(limit - 1):
        dbsession.add(LoginAttempt(user_id=user.id, timestamp=long_ago))
    dbsession.flush()
    fail(testapp, user, 1)
    dbsession.flush()
    assert user.locked_until is None


def test_a_successful_login_forgets_earlier_failures(testapp, dbsession, limit):
    user = make_user(dbsession)
    fail(testapp, user, limit - 1)
    login(testapp, user.email, DEFAULT_PASSWORD)
    assert attempts(dbsession, user) == 0


def test_unknown_emails_are_not_tracked(testapp, dbsession, limit):
    before = dbsession.scalar(select(func.count()).select_from(LoginAttempt))
    for _ in range(limit + 1):
        login(testapp, "nobody@example.org", WRONG, status=400)
    assert dbsession.scalar(select(func.count()).select_from(LoginAttempt)) == before


def test_a_zero_limit_switches_the_lockout_off(testapp, dbsession):
    set_app_setting(dbsession, "security_max_failed_login_attempts", 0)
    user = make_user(dbsession)
    fail(testapp, user, 6)
    assert login(testapp, user.email, DEFAULT_PASSWORD).location.endswith("/home")
    assert user.locked_until is None


# Through the API


def post_key_with_password(client, email: str, password: str, status: int):
    return client.post_json(
        "/api/v1/keys", {"label": "script", "email": email, "password": password}, status=status
    )


def test_wrong_passwords_at_post_keys_count_and_lock(testapp, dbsession, limit):
    user = make_user(dbsession)
    for _ in range(limit):
        response = post_key_with_password(testapp, user.email, WRONG, 401)
        assert_api_error(response, 401, "Unauthenticated", message=LOGIN_FAILED)
    dbsession.flush()
    assert user.locked_until is not None
    response = post_key_with_password(testapp, user.email, DEFAULT_PASSWORD, 401)
    assert_api_error(response, 401, "Unauthenticated", message=LOGIN_FAILED)


def test_failed_attempts_are_committed_although_the_api_answers_401(live_app, committed_db, limit):
    # `limit` changed the setting in the rolled-back test transaction only.
    user = make_user(committed_db)
    committed_db.commit()
    for _ in range(2):
        post_key_with_password(live_app, user.email, WRONG, 401)
    committed_db.rollback()  # a fresh snapshot that sees what the requests committed
    assert attempts(committed_db, user) == 2


# Wrong current passwords at a password change count like failed logins: an API key
# or a session left open must not allow unlimited guessing of the password.

NEW_PASSWORD = "Brand-New-Secret-7"


def put_password(client, user, key: str, old: str, status: int):
    return client.put_json(
        f"/api/v1/users/{user.site_id}/password",
        {"passwordChangeCredential": old, "newPassword": NEW_PASSWORD},
        headers=api_headers(key),
        status=status,
    )


def test_wrong_current_passwords_at_a_password_change_count_and_lock(testapp, dbsession, limit):
    user = make_user(dbsession)
    key = make_api_key(dbsession, user)
    for _ in range(limit - 1):
        put_password(testapp, user, key, WRONG, 403)
    assert attempts(dbsession, user) == limit - 1
    assert user.locked_until is None
    response = put_password(testapp, user, key, WRONG, 403)
    assert_api_error(response, 403, "AccessDenied", message=WRONG_CURRENT_CREDENTIAL)
    dbsession.flush()
    assert user.locked_until is not None


def test_a_locked_account_refuses_the_right_current_password_with_the_same_answer(
    testapp, dbsession, limit
):
    user = make_user(dbsession)
    key = make_api_key(dbsession, user)
    for _ in range(limit):
        wrong = put_password(testapp, user, key, WRONG, 403)
    right = put_password(testapp, user, key, DEFAULT_PASSWORD, 403)
    assert right.json == wrong.json
    login(testapp, user.email, DEFAULT_PASSWORD, status=400)


def test_failed_logins_and_failed_password_changes_add_up(testapp, dbsession, limit):
    user = make_user(dbsession)
    fail(testapp, user, limit - 1)
    put_password(testapp, user, make_api_key(dbsession, user), WRONG, 403)
    dbsession.flush()
    assert user.locked_until is not None


def test_trying_to_change_another_users_password_counts_against_nobody(testapp, dbsession):
    user = make_user(dbsession)
    other = make_user(dbsession)
    put_password(testapp, other, make_api_key(dbsession, user), WRONG, 403)
    assert attempts(dbsession, user) == attempts(dbsession, other) == 0


def test_a_wrong_current_password_is_committed_although_the_api_answers_403(live_app, committed_db):
    user = make_user(committed_db)
    key = make_api_key(committed_db, user)
    committed_db.commit()
    for _ in range(2):
        put_password(live_app, user, key, WRONG, 403)
    committed_db.rollback()
    assert attempts(committed_db, user) == 2


def test_a_wrong_current_password_on_the_account_page_is_committed_too(live_app, committed_db):
    user = make_user(committed_db)
    committed_db.commit()
    login(live_app, user.email, DEFAULT_PASSWORD)
    form = live_app.get("/account").forms["change-password"]
    form["old_password"] = WRONG
    form["new_password"] = form["new_password_repeat"] = NEW_PASSWORD
    form.submit(status=400)
    committed_db.rollback()
    assert attempts(committed_db, user) == 1


# Admins end a lockout early


@pytest.fixture
def locked(dbsession):
    group = make_group(dbsession)
    user = make_user(dbsession, group=group)
    user.locked_until = datetime.now(UTC) + timedelta(minutes=10)
    dbsession.add(LoginAttempt(user_id=user.id))
    dbsession.flush()
    return user


def unlock(testapp, actor_key: str, user_id: str, status: int):
    return testapp.delete(
        f"/api/v1/users/{user_id}/lockout", headers=api_headers(actor_key), status=status
    )


def test_a_site_admin_unlocks_an_account(testapp, dbsession, locked, caplog):
    admin = make_user(dbsession, site_admin=True)
    with caplog.at_level(logging.INFO, logger="datameta.security"):
        unlock(testapp, make_api_key(dbsession, admin), str(locked.uuid), 204)
    dbsession.flush()
    assert locked.locked_until is None
    assert attempts(dbsession, locked) == 0
    assert "unlocked" in caplog.text
    login(testapp, locked.email, DEFAULT_PASSWORD)


def test_an_admin_of_the_users_group_unlocks_by_site_id(testapp, dbsession, locked):
    group_admin = make_user(dbsession, group=locked.group, group_admin=True)
    unlock(testapp, make_api_key(dbsession, group_admin), locked.site_id, 204)
    dbsession.flush()
    assert locked.locked_until is None


@pytest.mark.parametrize("role", ["member", "other_group_admin"])
def test_users_who_do_not_see_the_account_are_told_it_does_not_exist(
    testapp, dbsession, locked, role
):
    if role == "member":
        actor = make_user(dbsession, group=locked.group)
    else:
        actor = make_user(dbsession, group_admin=True)
    response = unlock(testapp, make_api_key(dbsession, actor), str(locked.uuid), 404)
    assert_api_error(response, 404, "NotFound")
    dbsession.flush()
    assert locked.locked_until is not None


def test_a_site_reader_sees_the_account_but_may_not_unlock_it(testapp, dbsession, locked):
    reader = make_user(dbsession, site_read=True)
    response = unlock(testapp, make_api_key(dbsession, reader), str(locked.uuid), 403)
    assert_api_error(response, 403, "AccessDenied")
    dbsession.flush()
    assert locked.locked_until is not None


# That an unknown user is 404 is stated for every operation in test_visibility.py.


def test_a_locked_user_is_still_enabled(dbsession, locked):
    assert dbsession.get(User, locked.id).enabled
