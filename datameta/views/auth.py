"""Pages for signing in and out, the second factor, and setting a forgotten password."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from datameta.db import commit_despite_error
from datameta.errors import DomainError, Gone, NotFound, Unauthenticated, ValidationFailed
from datameta.logic import auth
from datameta.logic.appsettings import lockout_policy, password_policy
from datameta.models import User
from datameta.security.policy import end_session, preauth_user, start_preauth, start_session
from datameta.security.tokens import hash_token
from datameta.security.totp import new_secret, provisioning_uri, qr_code_svg
from datameta.views.errors import render_error
from datameta.views.public import public_page

# Where to go after the second factor, kept in the pre-auth session.
SESSION_LOGIN_NEXT = "login_next"
# The TOTP secret being enrolled: in the session until a code proves it, never in the DB.
SESSION_TFA_SETUP = "tfa_setup"

LINK_INVALID = "This link is not valid. It may have been used already, or a newer one was sent."


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site; None for anything that could leave it."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def log_in(request: Request, user: User) -> None:
    """Start a full session for ``user``, who has passed every factor the site requires."""
    start_session(request, user)
    request.session[auth.TFA_PASSED_SESSION_KEY] = True


def errors_of(error: DomainError, default_field: str = "") -> dict[str, list[str]]:
    """A domain error's messages by form field, for ``macros.field``."""
    errors: dict[str, list[str]] = {}
    for item in error.items:
        errors.setdefault(item.field or default_field, []).append(item.message)
    return errors


def invalid(request: Request, values: dict[str, Any], errors: dict[str, list[str]]) -> dict:
    """Show the form again with its problems, answering 400."""
    request.response.status_int = 400
    return {**values, "errors": errors}


def policy_hint(request: Request) -> str:
    """The password policy in words, shown under new-password fields."""
    policy = password_policy(request.app_settings)
    needs = [
        (policy.min_uppercase, "upper-case letter"),
        (policy.min_lowercase, "lower-case letter"),
        (policy.min_digits, "digit"),
        (policy.min_punctuation, "punctuation character"),
    ]
    parts = [f"{count} {kind}{'' if count == 1 else 's'}" for count, kind in needs if count > 0]
    hint = f"At least {policy.min_length} characters"
    return hint + (f", with at least {', '.join(parts)}." if parts else ".")


# Logging in and out


@public_page("login", "GET", "auth/login.html")
def login_form(request: Request) -> dict | HTTPFound:
    target = safe_next(request.params.get("next"))
    if request.user is not None and target:
        return HTTPFound(location=target)
    # A logged-in user without a target sees a short note with a link onwards.
    return {"email": "", "next": target or ""}


@public_page("login", "POST", "auth/login.html")
def login(request: Request) -> dict | HTTPFound:
    email = request.POST.get("email", "")
    password = request.POST.get("password", "")
    target = safe_next(request.POST.get("next"))
    values = {"email": email, "next": target or ""}
    errors: dict[str, list[str]] = {}
    if not email.strip():
        errors["email"] = ["Enter your email address."]
    if not password:
        errors["password"] = ["Enter your password."]
    if errors:
        return invalid(request, values, errors)
    try:
        user = auth.authenticate(
            request.dbsession, email, password, lockout_policy(request.app_settings)
        )
    except Unauthenticated as error:
        commit_despite_error(request)  # the failed attempt counts towards the lockout
        return invalid(request, values, errors_of(error, "password"))
    step = auth.after_password(request.dbsession, user, tfa_enabled=request.settings.tfa_enabled)
    if step is auth.LoginStep.ENROLMENT_NEEDED:
        return invalid(request, {**values, "tfa_enrolment_needed": True}, {})
    if step is auth.LoginStep.SECOND_FACTOR:
        start_preauth(request, user)
        if target:
            request.session[SESSION_LOGIN_NEXT] = target
        return HTTPFound(location=request.route_path("tfa"))
    log_in(request, user)
    return HTTPFound(location=target or request.route_path("home"))


@view_config(route_name="logout", request_method="POST", permission=NO_PERMISSION_REQUIRED)
def logout(request: Request) -> HTTPFound:
    end_session(request)
    request.session.flash("You have been logged out.")
    return HTTPFound(location=request.route_path("login"))


# The second factor at login


def _preauth_or_login(request: Request) -> User | HTTPFound:
    user = preauth_user(request)
    if user is None:
        end_session(request)
        request.session.flash(
            "Please log in (again): the second step has to follow within "
            "five minutes of the first.",
            "error",
        )
        return HTTPFound(location=request.route_path("login"))
    return user


@public_page("tfa", "GET", "auth/tfa.html")
def tfa_form(request: Request) -> dict | HTTPFound:
    user = _preauth_or_login(request)
    return user if isinstance(user, HTTPFound) else {}


@public_page("tfa", "POST", "auth/tfa.html")
def tfa(request: Request) -> dict | HTTPFound:
    user = _preauth_or_login(request)
    if isinstance(user, HTTPFound):
        return user
    try:
        auth.verify_second_factor(
            request.dbsession,
            user,
            request.POST.get("code", ""),
            request.settings.tfa_encrypt_key,
            lockout_policy(request.app_settings),
        )
    except Unauthenticated as error:
        commit_despite_error(request)  # the failed attempt counts towards the lockout
        if not auth.may_log_in(user):
            end_session(request)
            request.session.flash(auth.LOGIN_FAILED, "error")
            return HTTPFound(location=request.route_path("login"))
        return invalid(request, {}, errors_of(error, "code"))
    target = request.session.get(SESSION_LOGIN_NEXT)
    log_in(request, user)
    return HTTPFound(location=safe_next(target) or request.route_path("home"))


# Forgotten passwords


@public_page("forgot", "GET", "auth/forgot.html")
def forgot_form(request: Request) -> dict:
    return {"email": "", "sent": False}


@public_page("forgot", "POST", "auth/forgot.html")
def forgot(request: Request) -> dict:
    email = request.POST.get("email", "").strip()
    if not email:
        return invalid(request, {"email": email, "sent": False}, {"email": ["Enter your email."]})
    auth.send_reset_link(request.dbsession, email, request.outbox)
    # The same answer whether or not the email belongs to an account.
    return {"email": email, "sent": True}


def _expired_reset_link(request: Request, token: str) -> Response:
    """An expired link: a button that asks for a fresh one.

    Opening a link changes nothing: mail systems open links to scan them.
    """
    response = request.response
    response.status_int = 410
    values = {"token": token, "sent": False}
    return render_to_response("auth/expired.html", values, request=request, response=response)


@public_page("setpass_renew", "POST", "auth/expired.html")
def renew_reset_link(request: Request) -> dict | Response:
    """Mail a fresh link in place of an expired one (the old one stops working)."""
    token = request.matchdict["token"]
    try:
        renewed = auth.renew_reset_link(request.dbsession, token, request.outbox)
    except NotFound:
        return render_error(request, 404, "This link is not valid", LINK_INVALID)
    if renewed:
        return {"token": token, "sent": True}
    # Still valid: nothing to renew.
    return HTTPFound(location=request.route_path("setpass", token=token))


@public_page("setpass", "GET", "auth/setpass.html")
def setpass_form(request: Request) -> dict | Response:
    return _setpass_values(request)


def _setpass_values(request: Request) -> dict | Response:
    """The form's values for a valid link; else the page that says what is wrong with it."""
    token = request.matchdict["token"]
    try:
        target = auth.reset_token_user(request.dbsession, token)
    except NotFound:
        return render_error(request, 404, "This link is not valid", LINK_INVALID)
    except Gone:
        return _expired_reset_link(request, token)
    return {"token": token, "target": target, "policy_hint": policy_hint(request)}


@public_page("setpass", "POST", "auth/setpass.html")
def setpass(request: Request) -> dict | Response:
    values = _setpass_values(request)
    if isinstance(values, Response):
        return values
    token = values["token"]
    password = request.POST.get("password", "")
    if password != request.POST.get("password_repeat", ""):
        return invalid(request, values, {"password_repeat": ["The passwords do not match."]})
    try:
        tfa_token = auth.reset_password(
            request.dbsession,
            token,
            password,
            auth.password_rules(request.settings, request.app_settings),
            field="password",
        )
    except ValidationFailed as error:
        return invalid(request, values, errors_of(error, "password"))
    if tfa_token:
        return HTTPFound(location=request.route_path("settfa", token=tfa_token))
    request.session.flash("Your password has been set. Please log in.")
    return HTTPFound(location=request.route_path("login"))


# Enrolling the second factor


def _setup_secret(request: Request, token: str, *, fresh: bool = False) -> str:
    """The secret being enrolled with this token: the same one until the user proves it."""
    setup = request.session.get(SESSION_TFA_SETUP)
    if not fresh and setup and setup.get("token") == hash_token(token):
        return setup["secret"]
    secret = new_secret()
    request.session[SESSION_TFA_SETUP] = {"token": hash_token(token), "secret": secret}
    return secret


def _settfa_values(request: Request, token: str, user: User, secret: str) -> dict:
    uri = provisioning_uri(secret, user.email, request.settings.tfa_otp_issuer)
    return {"token": token, "secret": secret, "qr_svg": qr_code_svg(uri)}


def _settfa_user(request: Request, token: str) -> User | Response:
    if not request.settings.tfa_enabled:
        return render_error(request, 404, "Page not found", "There is no page at this address.")
    try:
        return auth.tfa_setup_user(request.dbsession, token)
    except NotFound:
        return render_error(request, 404, "This link is not valid", LINK_INVALID)
    except Gone:
        return render_error(
            request,
            410,
            "This link has expired",
            "Reset your password again to set up two-factor authentication.",
        )


EnrolmentView = Callable[[Request, str, User], dict | Response]


def _for_valid_enrolment_link(view: EnrolmentView) -> Callable[[Request], dict | Response]:
    """The page runs for the link's token and user; an invalid link shows why instead."""

    @functools.wraps(view)
    def page(request: Request) -> dict | Response:
        token = request.matchdict["token"]
        user = _settfa_user(request, token)
        if isinstance(user, Response):
            return user
        return view(request, token, user)

    return page


@public_page("settfa", "GET", "auth/settfa.html")
@_for_valid_enrolment_link
def settfa_form(request: Request, token: str, user: User) -> dict | Response:
    return _settfa_values(request, token, user, _setup_secret(request, token))


@public_page("settfa", "POST", "auth/settfa.html")
@_for_valid_enrolment_link
def settfa(request: Request, token: str, user: User) -> dict | Response:
    setup = request.session.get(SESSION_TFA_SETUP)
    if not setup or setup.get("token") != hash_token(token):
        # The secret shown earlier is gone with its session: start over with a new one.
        secret = _setup_secret(request, token, fresh=True)
        message = "Your session ended. Scan this new code and enter the code it shows."
        return invalid(request, _settfa_values(request, token, user, secret), {"code": [message]})
    secret = setup["secret"]
    try:
        auth.complete_tfa_setup(
            request.dbsession,
            token,
            secret,
            request.POST.get("code", ""),
            request.settings.tfa_encrypt_key,
        )
    except ValidationFailed as error:
        return invalid(request, _settfa_values(request, token, user, secret), errors_of(error))
    request.session.pop(SESSION_TFA_SETUP, None)
    request.session.flash("Two-factor authentication is set up. Please log in.")
    return HTTPFound(location=request.route_path("login"))
