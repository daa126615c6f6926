"""An expired set-password link, in a real browser: a button mails a fresh one.

Opening the link changes nothing (mail scanners open links too); the person
asks for the fresh link with the button, opens it and sets the password.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from datameta.logic.passwords import issue_token
from datameta.models import PasswordToken, TokenPurpose
from tests.factories import make_user

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Brand-New-Passw0rd!"


def test_an_expired_link_is_renewed_with_the_button(page, screenshots, committed_db, mailbox):
    user = make_user(committed_db, email="late@example.org")
    committed_db.flush()
    token = issue_token(committed_db, user, TokenPurpose.PASSWORD_RESET, 10)
    committed_db.execute(
        update(PasswordToken).values(expires=datetime.now(UTC) - timedelta(minutes=1))
    )
    committed_db.commit()

    page.goto(f"/setpass/{token}")
    assert page.locator("h1").inner_text() == "This link has expired"
    screenshots.take("expired-link")
    mailbox.settle()
    assert mailbox.to("late@example.org") == []

    page.click("#renew-link button[type=submit]")
    page.wait_for_load_state()
    assert "We have mailed you a new link" in page.inner_text("main")
    screenshots.take("fresh-link-sent")

    [mail] = mailbox.received("late@example.org")
    fresh = re.search(r"(http\S+/setpass/\S+)", mailbox.body(mail)).group(1)
    page.goto(fresh)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_repeat", NEW_PASSWORD)
    screenshots.take("set-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/login")
    assert "Your password has been set" in page.inner_text("main")
    screenshots.take("password-set")
