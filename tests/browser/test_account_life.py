"""The whole life of an account, in a real browser, with two-factor authentication on.

Register, an admin accepts, the mailed link sets a password and enrols TOTP,
log out, log in with password and one-time code, create an API key on
/account, and call the API with it. Screenshots of every step are kept.
"""

import re

import pyotp
import pytest
import requests
from cryptography.fernet import Fernet

from datameta import configure
from datameta.security.totp import encrypt_secret, new_secret
from tests.browser.conftest import Screenshots
from tests.conftest import TEST_INI, serving
from tests.factories import DEFAULT_PASSWORD, make_group, make_user

pytestmark = pytest.mark.browser

TFA_KEY = Fernet.generate_key().decode()
NEW_PASSWORD = "Brand-New-Passw0rd!"


@pytest.fixture(scope="module")
def tfa_server(dbengine):
    ini = {**TEST_INI, "datameta.tfa.enabled": "true", "datameta.tfa.encrypt_key": TFA_KEY}
    with serving(configure(ini, dbengine=dbengine).make_wsgi_app()) as url:
        yield url


@pytest.fixture
def admin(committed_db):
    secret = new_secret()
    user = make_user(
        committed_db,
        group=make_group(committed_db, "Sequencing Lab"),
        email="admin@example.org",
        site_admin=True,
        group_admin=True,
    )
    user.tfa_secret_encrypted = encrypt_secret(secret, TFA_KEY)
    committed_db.commit()
    return user.email, secret


def log_in(page, email, password, secret):
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/tfa")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_url("**/home")


def link_in(mail_body: str, path: str) -> str:
    return re.search(rf"(http\S+{path}\S+)", mail_body).group(1)


def test_an_account_from_registration_to_its_first_api_call(
    browser, tfa_server, admin, mailbox, clean_database
):
    applicant = browser.new_context(base_url=tfa_server)
    page = applicant.new_page()
    shots = Screenshots(page, "account_life")

    page.goto("/register")
    page.fill("#name", "Ada Lovelace")
    page.fill("#email", "ada@example.org")
    page.select_option("#org_select", label="Sequencing Lab")
    shots.take("register-form")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    shots.take("register-sent")

    [notification] = mailbox.to("admin@example.org")
    admin_page = browser.new_context(base_url=tfa_server).new_page()
    admin_shots = Screenshots(admin_page, "account_life_admin")
    log_in(admin_page, admin[0], DEFAULT_PASSWORD, admin[1])
    admin_page.goto(link_in(mailbox.body(notification), "showreq="))
    admin_shots.take("request-opened")
    admin_page.click("details[open] button:has-text('Accept')")
    admin_page.wait_for_load_state()
    admin_shots.take("request-accepted")

    [welcome] = mailbox.to("ada@example.org")
    page.goto(link_in(mailbox.body(welcome), "/setpass/"))
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_repeat", NEW_PASSWORD)
    shots.take("set-password")
    page.click("button[type=submit]")
    page.wait_for_url("**/settfa/**")
    assert page.locator(".tfa-qr svg").is_visible()
    secret = page.inner_text("#tfa-secret").replace(" ", "")
    shots.take("enrol-totp")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_load_state()
    shots.take("enrolled")

    if page.locator("form[action='/logout'] button").count():
        page.click("form[action='/logout'] button")
        page.wait_for_url("**/login")
    log_in(page, "ada@example.org", NEW_PASSWORD, secret)
    shots.take("home")

    page.goto("/account")
    page.fill("#label", "pipeline")
    page.click("#create-key button[type=submit]")
    page.wait_for_load_state()
    token = page.input_value("#new-token")
    shots.take("api-key-created")
    assert len(token) == 64

    whoami = requests.get(
        f"{tfa_server}/api/v1/rpc/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert whoami.status_code == 200
    assert whoami.json()["email"] == "ada@example.org"
    assert whoami.json()["group"]["name"] == "Sequencing Lab"
