"""A broken mail text stored in the database (say by an older version) never breaks a page."""

from __future__ import annotations

import logging

import pytest

from tests.factories import make_group, make_user, set_app_setting
from tests.helpers import csrf_token, registration_form

BROKEN = [
    "{x.attr}",
    "{",
    "{0}",
    "{unknown}",
    "{fullname!r}",
    "{fullname.__class__.__mro__}",
    "{fullname:>100000000}",
]


@pytest.mark.parametrize("broken", BROKEN)
def test_forgot_still_mails_the_link_with_a_broken_stored_text(
    live_app, committed_db, mailbox, caplog, broken
):
    make_user(committed_db, email="fay@example.org", fullname="Fay")
    set_app_setting(committed_db, "subject_forgot_token", f"Reset {broken}")
    set_app_setting(
        committed_db, "template_forgot_token", f"Dear {{fullname}} {broken} {{token_url}}"
    )
    committed_db.commit()

    with caplog.at_level(logging.WARNING, logger="datameta.logic.mails"):
        page = live_app.post(
            "/forgot", {"email": "fay@example.org", "csrf_token": csrf_token(live_app)}, status=200
        )

    assert "If an account with this email address exists" in page.text
    [mail] = mailbox.received("fay@example.org")
    body = mailbox.body(mail)
    assert body.startswith("Dear Fay ")
    assert "http://localhost/setpass/" in body
    assert "template_forgot_token" in caplog.text


@pytest.mark.parametrize("broken", BROKEN)
def test_register_still_notifies_the_admins_with_a_broken_stored_text(
    live_app, committed_db, mailbox, broken
):
    group = make_group(committed_db, "Broken Texts Lab")
    make_user(committed_db, site_admin=True, email="root@example.org")
    set_app_setting(committed_db, "subject_reg_notify", f"New {broken}")
    set_app_setting(committed_db, "template_reg_notify", f"{{req_fullname}} {broken} {{req_url}}")
    committed_db.commit()
    form = registration_form(
        live_app, name="Ada Lovelace", email="ada@example.org", org_select=group.site_id
    )

    page = form.submit(status=200)

    assert "ada@example.org" in page.text
    [mail] = mailbox.received("root@example.org")
    body = mailbox.body(mail)
    assert body.startswith("Ada Lovelace ")
    assert "http://localhost/admin?showreq=" in body
