"""Mail templates that site admins edit: only the placeholders each mail fills, as plain names."""

from __future__ import annotations

import logging

import pytest

from datameta.logic.mails import (
    FORGOT_TOKEN,
    MAIL_KINDS,
    PLACEHOLDERS,
    REG_NOTIFY,
    REJECT,
    WELCOME_TOKEN,
    render,
    template_problem,
)

TOKEN_MAIL = frozenset({"fullname", "token_url", "expiry_minutes"})


def test_every_mail_text_has_its_placeholders():
    assert {
        "subject_forgot_token": TOKEN_MAIL,
        "template_forgot_token": TOKEN_MAIL,
        "subject_welcome_token": TOKEN_MAIL,
        "template_welcome_token": TOKEN_MAIL,
        "subject_reject": {"fullname"},
        "template_reject": {"fullname"},
        "subject_reg_notify": {"req_fullname", "req_email", "req_group", "req_url"},
        "template_reg_notify": {"req_fullname", "req_email", "req_group", "req_url"},
    } == PLACEHOLDERS
    assert set(MAIL_KINDS) == {FORGOT_TOKEN, WELCOME_TOKEN, REJECT, REG_NOTIFY}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "No placeholder at all.",
        "Dear {fullname}, open {token_url} within {expiry_minutes} minutes.",
        "Braces written twice stay: {{fullname}} and }} and {{",
        "{fullname}{fullname}",
    ],
)
def test_allowed_templates_have_no_problem(text):
    assert template_problem(text, TOKEN_MAIL) is None


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Dear {unknown}", "{unknown}"),
        ("Dear {fullname.__class__}", "{fullname.__class__}"),
        ("Dear {fullname[0]}", "{fullname[0]}"),
        ("Dear {0}", "{0}"),
        ("Dear {}", "{}"),
        ("Dear {fullname!r}", "{fullname!r}"),
        ("Dear {fullname:>99999999}", "{fullname:>99999999}"),
        ("Dear {fullname:{token_url}}", "{fullname:{token_url}}"),
    ],
)
def test_a_placeholder_that_is_not_a_plain_allowed_name_is_named(text, named):
    problem = template_problem(text, TOKEN_MAIL)
    assert problem is not None
    assert named in problem
    # The problem says what is allowed instead.
    assert "{expiry_minutes}, {fullname}, {token_url}" in problem


@pytest.mark.parametrize("text", ["Dear {", "Dear }", "Dear {fullname", "{{fullname}"])
def test_unbalanced_braces_are_a_problem(text):
    problem = template_problem(text, TOKEN_MAIL)
    assert problem is not None
    assert "{{" in problem  # the way to write a literal brace


def test_a_good_template_is_filled():
    values = {"fullname": "Ada", "token_url": "https://x/setpass/t", "expiry_minutes": 10}
    text = "Dear {fullname}: {token_url} ({expiry_minutes} min) {{literal}}"
    assert render(text, TOKEN_MAIL, values) == "Dear Ada: https://x/setpass/t (10 min) {literal}"


@pytest.mark.parametrize(
    "text",
    [
        "Dear {fullname}, {x.attr} {token_url}",
        "Dear {fullname}, {0} {token_url}",
        "Dear {fullname}, { {token_url}",
        "Dear {fullname}, {fullname!r} {token_url}",
        "Dear {fullname}, {fullname.__class__} {token_url}",
        "Dear {fullname}, {fullname:>99999999} {token_url}",
    ],
)
def test_a_stored_bad_template_still_gives_a_mail_with_the_link_and_is_logged(text, caplog):
    values = {"fullname": "Ada", "token_url": "https://x/setpass/t", "expiry_minutes": 10}
    with caplog.at_level(logging.WARNING, logger="datameta.logic.mails"):
        body = render(text, TOKEN_MAIL, values)
    assert body.startswith("Dear Ada, ")
    assert body.endswith(" https://x/setpass/t")
    assert "class" not in body.replace("{fullname.__class__}", "")
    assert len(body) < 200
    assert any("template" in record.getMessage() for record in caplog.records)
