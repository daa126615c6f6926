"""Links in mails lead to the site's public address, whatever host a request names.

A reset link that followed the Host (or X-Forwarded-Host) header of the request
asking for it would let anybody mail a victim a genuine reset token on a link to
their own server. With ``datameta.public_url`` set, no header changes a link.
"""

from __future__ import annotations

import re

import pytest
import requests
import webtest

from datameta import make_app
from tests.conftest import TEST_INI, serving
from tests.factories import add_request, make_api_key, make_group, make_user
from tests.helpers import api_headers, committing_client

PUBLIC_URL = "https://datameta.example.org"
ATTACKER = "attacker.example"


@pytest.fixture(scope="module")
def public_app(dbengine):
    return make_app({**TEST_INI, "datameta.public_url": PUBLIC_URL}, dbengine=dbengine)


@pytest.fixture
def client(public_app, clean_database) -> webtest.TestApp:
    """Real transactions (mail leaves on commit), every request naming the attacker's host."""
    return committing_client(public_app, HTTP_HOST=ATTACKER, HTTP_X_FORWARDED_HOST=ATTACKER)


def links_in(mailbox, mail) -> list[str]:
    return re.findall(r"https?://\S+", mailbox.body(mail))


def test_the_reset_link_uses_the_public_url(client, committed_db, mailbox):
    make_user(committed_db, email="fay@example.org")
    committed_db.commit()
    token = client.get("/forgot").html.find("input", {"name": "csrf_token"})["value"]
    client.post("/forgot", {"email": "fay@example.org", "csrf_token": token}, status=200)

    [mail] = mailbox.received("fay@example.org")
    [link] = links_in(mailbox, mail)
    assert link.startswith(f"{PUBLIC_URL}/setpass/")
    assert ATTACKER not in mailbox.body(mail)


def test_the_registration_notice_and_the_welcome_use_the_public_url(client, committed_db, mailbox):
    group = make_group(committed_db, "Linked Lab")
    admin = make_user(committed_db, site_admin=True, email="root@example.org")
    key = make_api_key(committed_db, admin)
    committed_db.commit()
    client.post_json(
        "/api/v1/registrations",
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "org_select": group.site_id,
            "org_create": None,
            "org_new_name": None,
            "check_user_agreement": None,
        },
        status=204,
    )
    [notice] = mailbox.received("root@example.org")
    [link] = links_in(mailbox, notice)
    assert link.startswith(f"{PUBLIC_URL}/admin?showreq=")

    registration = add_request(committed_db, group=group, email="grace@example.org")
    committed_db.commit()
    client.post_json(
        f"/api/v1/registrations/{registration.uuid}/accept",
        {"name": "Grace Hopper", "groupAdmin": False},
        headers=api_headers(key),
    )
    [welcome] = mailbox.received("grace@example.org")
    [link] = links_in(mailbox, welcome)
    assert link.startswith(f"{PUBLIC_URL}/setpass/")


def test_a_forwarded_host_through_a_trusting_server_does_not_change_the_link(
    public_app, clean_database, committed_db, mailbox
):
    make_user(committed_db, email="fay@example.org")
    committed_db.commit()
    # The worst case: a server that believes every forwarded header of every peer.
    trusting = {
        "trusted_proxy": "*",
        "trusted_proxy_headers": "x-forwarded-host x-forwarded-proto x-forwarded-for",
    }
    forged = {"Host": ATTACKER, "X-Forwarded-Host": ATTACKER, "X-Forwarded-Proto": "http"}
    with serving(public_app, **trusting) as url, requests.Session() as browser:
        form = browser.get(f"{url}/forgot", headers=forged, timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        answer = browser.post(
            f"{url}/forgot",
            data={"email": "fay@example.org", "csrf_token": token},
            headers=forged,
            timeout=30,
        )
    assert answer.status_code == 200

    [mail] = mailbox.received("fay@example.org")
    [link] = links_in(mailbox, mail)
    assert link.startswith(f"{PUBLIC_URL}/setpass/")
