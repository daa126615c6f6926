"""Login rules without HTTP: lockouts, the step after a password, TOTP, API key owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from datameta.errors import Forbidden, Unauthenticated
from datameta.logic import apikeys, auth
from datameta.logic.appsettings import LockoutPolicy
from datameta.models import LoginAttempt
from datameta.security.totp import encrypt_secret, new_secret
from tests.factories import DEFAULT_PASSWORD, make_user

LOCKOUT = LockoutPolicy(max_failed_attempts=3, window_minutes=10, duration_minutes=10)
KEY = Fernet.generate_key().decode()


def attempts(db, user) -> int:
    query = select(func.count()).select_from(LoginAttempt).where(LoginAttempt.user_id == user.id)
    return db.execute(query).scalar_one()


@pytest.fixture
def user(dbsession):
    return make_user(dbsession)


@pytest.fixture
def enrolled(dbsession, user):
    secret = new_secret()
    user.tfa_secret_encrypted = encrypt_secret(secret, KEY)
    dbsession.flush()
    return user, secret


# The lock


def test_a_lock_holds_until_its_end_and_then_is_gone(user):
    now = datetime.now(UTC)
    user.locked_until = now + timedelta(minutes=5)
    assert auth.is_locked(user, now) and auth.lock_end(user, now) == user.locked_until
    assert not auth.may_log_in(user)
    later = now + timedelta(minutes=6)
    assert not auth.is_locked(user, later) and auth.lock_end(user, later) is None


def test_a_disabled_user_may_not_log_in_though_not_locked(user):
    user.enabled = False
    assert not auth.is_locked(user) and not auth.may_log_in(user)


# What follows a correct password


def test_without_a_second_factor_the_password_completes_the_login(dbsession, user):
    auth.record_failed_attempt(dbsession, user, LOCKOUT)
    assert auth.after_password(dbsession, user, tfa_enabled=False) is auth.LoginStep.DONE
    assert attempts(dbsession, user) == 0


def test_with_a_second_factor_the_code_comes_next_and_failures_still_count(dbsession, enrolled):
    user, _ = enrolled
    auth.record_failed_attempt(dbsession, user, LOCKOUT)
    step = auth.after_password(dbsession, user, tfa_enabled=True)
    assert step is auth.LoginStep.SECOND_FACTOR
    assert attempts(dbsession, user) == 1


def test_a_user_without_a_second_factor_must_enrol_one_first(dbsession, user):
    step = auth.after_password(dbsession, user, tfa_enabled=True)
    assert step is auth.LoginStep.ENROLMENT_NEEDED


# The second factor


def test_the_current_code_passes_the_second_factor(dbsession, enrolled):
    user, secret = enrolled
    auth.verify_second_factor(dbsession, user, pyotp.TOTP(secret).now(), KEY, LOCKOUT)
    assert attempts(dbsession, user) == 0


def test_no_code_matches_a_secret_the_current_key_cannot_read(dbsession, enrolled):
    user, secret = enrolled
    other_key = Fernet.generate_key().decode()
    assert auth.totp_secret(user, other_key) is None
    with pytest.raises(Unauthenticated) as raised:
        auth.verify_second_factor(dbsession, user, pyotp.TOTP(secret).now(), other_key, LOCKOUT)
    assert raised.value.items[0].message == auth.WRONG_CODE
    assert attempts(dbsession, user) == 1


def test_a_locked_user_is_refused_even_the_right_code(dbsession, enrolled):
    user, secret = enrolled
    user.locked_until = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(Unauthenticated) as raised:
        auth.verify_second_factor(dbsession, user, pyotp.TOTP(secret).now(), KEY, LOCKOUT)
    assert raised.value.items[0].message == auth.LOGIN_FAILED


# Who a new API key is for


def key_owner(db, caller=None, credentials=None, *, tfa_enabled=False, passed=True):
    return apikeys.key_owner(
        db,
        caller,
        credentials,
        second_factor_passed=passed,
        tfa_enabled=tfa_enabled,
        lockout=LOCKOUT,
    )


def test_a_logged_in_caller_makes_keys_for_themselves(dbsession, user):
    assert key_owner(dbsession, user) is user
    assert key_owner(dbsession, user, tfa_enabled=True, passed=True) is user


def test_a_caller_who_has_not_passed_the_second_factor_makes_no_key(dbsession, user):
    with pytest.raises(Forbidden):
        key_owner(dbsession, user, tfa_enabled=True, passed=False)


def test_email_and_password_name_the_owner_and_end_earlier_failures(dbsession, user):
    auth.record_failed_attempt(dbsession, user, LOCKOUT)
    credentials = apikeys.Credentials(user.email, DEFAULT_PASSWORD)
    assert key_owner(dbsession, credentials=credentials) is user
    assert attempts(dbsession, user) == 0


def test_a_wrong_password_makes_no_key_and_counts_as_a_failed_login(dbsession, user):
    with pytest.raises(Unauthenticated):
        key_owner(dbsession, credentials=apikeys.Credentials(user.email, "Wrong-Pass-1"))
    assert attempts(dbsession, user) == 1


def test_email_and_password_are_no_way_around_a_second_factor(dbsession, enrolled):
    user, _ = enrolled
    credentials = apikeys.Credentials(user.email, DEFAULT_PASSWORD)
    with pytest.raises(Forbidden):
        key_owner(dbsession, credentials=credentials, tfa_enabled=True)
    assert attempts(dbsession, user) == 0  # refused before any password check


def test_without_caller_or_credentials_nobody_owns_the_key(dbsession):
    with pytest.raises(Unauthenticated):
        key_owner(dbsession)
