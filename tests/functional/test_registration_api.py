"""Registration over the API: POST /registrations, GET /registrationsettings, and the answers."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from datameta.logic.passwords import find_token
from datameta.models import (
    Group,
    PasswordToken,
    RegistrationRequest,
    TokenPurpose,
    User,
)
from tests.factories import (
    add_request,
    make_api_key,
    make_group,
    make_user,
    pending,
    set_app_setting,
)
from tests.helpers import api_headers, assert_api_error


def body(**overrides):
    """A complete registration request as DataMeta's form sends it."""
    values = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "org_select": None,
        "org_create": None,
        "org_new_name": None,
        "check_user_agreement": None,
    }
    values.update(overrides)
    return values


@pytest.fixture
def site_admin(dbsession):
    return make_user(dbsession, site_admin=True, email="root@example.org")


@pytest.fixture
def admin_key(dbsession, site_admin):
    return make_api_key(dbsession, site_admin)


# GET /registrationsettings


def test_registration_settings_list_groups_and_no_agreement_by_default(testapp, dbsession):
    group = make_group(dbsession, "Zebrafish Lab")

    settings = testapp.get("/api/v1/registrationsettings").json

    assert settings["userAgreement"] is None
    assert {"id": {"uuid": str(group.uuid), "site": group.site_id}, "name": "Zebrafish Lab"} in (
        settings["groups"]
    )


def test_registration_settings_hide_the_groups_when_the_site_says_so(testapp, dbsession):
    make_group(dbsession, "Secret Lab")
    set_app_setting(dbsession, "registration_show_groups", False)

    assert testapp.get("/api/v1/registrationsettings").json["groups"] == []


def test_the_user_agreement_comes_sanitized(testapp, dbsession):
    set_app_setting(
        dbsession,
        "user_agreement",
        '<p onclick="steal()">Be <b>nice</b>.</p><script>alert(1)</script>',
    )

    agreement = testapp.get("/api/v1/registrationsettings").json["userAgreement"]

    assert "<b>nice</b>" in agreement
    assert "script" not in agreement
    assert "onclick" not in agreement


# POST /registrations: accepted


def test_a_registration_for_an_existing_group_is_recorded(testapp, dbsession):
    group = make_group(dbsession)

    testapp.post_json(
        "/api/v1/registrations",
        body(email=" Ada@Example.ORG ", org_select=group.site_id),
        status=204,
    )

    registration = pending(dbsession, "ada@example.org")
    assert registration.fullname == "Ada Lovelace"
    assert registration.group_id == group.id
    assert registration.new_group_name is None


def test_a_group_may_be_named_by_uuid(testapp, dbsession):
    group = make_group(dbsession)

    testapp.post_json("/api/v1/registrations", body(org_select=str(group.uuid)), status=204)

    assert pending(dbsession, "ada@example.org").group_id == group.id


@pytest.mark.parametrize("org_create", [True, "on"])
def test_a_registration_may_ask_for_a_new_group(testapp, dbsession, org_create):
    testapp.post_json(
        "/api/v1/registrations",
        body(org_create=org_create, org_new_name=" Analytical Engines "),
        status=204,
    )

    registration = pending(dbsession, "ada@example.org")
    assert registration.group_id is None
    assert registration.new_group_name == "Analytical Engines"


def test_an_accepted_user_agreement_lets_the_registration_through(testapp, dbsession):
    set_app_setting(dbsession, "user_agreement", "Be nice.")
    group = make_group(dbsession)

    testapp.post_json(
        "/api/v1/registrations",
        body(org_select=group.site_id, check_user_agreement=True),
        status=204,
    )

    assert pending(dbsession, "ada@example.org") is not None


# POST /registrations: every problem, by field


def test_a_malformed_email_is_refused(testapp, dbsession):
    group = make_group(dbsession)
    for email in ["", "ada", "ada@example", "a da@example.org", "ada@@example.org"]:
        response = testapp.post_json(
            "/api/v1/registrations", body(email=email, org_select=group.site_id), status=400
        )
        assert_api_error(response, 400, "ValidationError", field="email")


def test_the_email_of_an_existing_user_is_refused_in_any_letter_case(testapp, dbsession):
    group = make_group(dbsession)
    make_user(dbsession, email="ada@example.org")

    response = testapp.post_json(
        "/api/v1/registrations",
        body(email="ADA@example.org", org_select=group.site_id),
        status=400,
    )

    assert_api_error(
        response, 400, field="email", message="An account with this email address exists already."
    )


def test_a_second_request_for_the_same_email_is_refused(testapp, dbsession):
    group = make_group(dbsession)
    add_request(dbsession, group=group, email="ada@example.org")

    response = testapp.post_json(
        "/api/v1/registrations", body(org_select=group.site_id), status=400
    )

    assert_api_error(response, 400, field="email")
    assert "waiting for an answer" in response.json[0]["message"]


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 201])
def test_an_empty_or_overlong_name_is_refused(testapp, dbsession, name):
    group = make_group(dbsession)

    response = testapp.post_json(
        "/api/v1/registrations", body(name=name, org_select=group.site_id), status=400
    )

    assert_api_error(response, 400, field="name")


@pytest.mark.parametrize("org_select", [None, "", "DMG-99999999", "nonsense"])
def test_an_unknown_group_is_refused(testapp, dbsession, org_select):
    response = testapp.post_json("/api/v1/registrations", body(org_select=org_select), status=400)

    assert_api_error(response, 400, field="org_select")


def test_a_new_group_needs_a_name(testapp):
    response = testapp.post_json(
        "/api/v1/registrations", body(org_create=True, org_new_name="  "), status=400
    )

    assert_api_error(response, 400, field="org_new_name")


def test_a_new_group_may_not_take_an_existing_name(testapp, dbsession):
    make_group(dbsession, "Existing Lab")

    response = testapp.post_json(
        "/api/v1/registrations",
        body(org_create=True, org_new_name="existing lab"),
        status=400,
    )

    assert_api_error(
        response, 400, field="org_new_name", message="A group with that name already exists."
    )


@pytest.mark.parametrize("check", [None, False])
def test_the_user_agreement_must_be_accepted_when_there_is_one(testapp, dbsession, check):
    set_app_setting(dbsession, "user_agreement", "Be nice.")
    group = make_group(dbsession)

    response = testapp.post_json(
        "/api/v1/registrations",
        body(org_select=group.site_id, check_user_agreement=check),
        status=400,
    )

    assert_api_error(response, 400, field="check_user_agreement")


def test_all_problems_are_reported_at_once(testapp, dbsession):
    set_app_setting(dbsession, "user_agreement", "Be nice.")

    response = testapp.post_json(
        "/api/v1/registrations",
        body(name="", email="nope", org_select="DMG-99999999", check_user_agreement=False),
        status=400,
    )

    items = assert_api_error(response, 400, "ValidationError")
    assert {item["field"] for item in items} == {
        "name",
        "email",
        "org_select",
        "check_user_agreement",
    }
    assert pending(dbsession, "nope") is None


def test_a_request_missing_keys_is_refused_by_the_schema(testapp):
    response = testapp.post_json("/api/v1/registrations", {"name": "Ada"}, status=400)

    assert_api_error(response, 400, "ValidationError")


# GET /registrations


def test_site_admins_see_every_pending_request(testapp, dbsession, admin_key):
    group = make_group(dbsession, "Listed Lab")
    first = add_request(dbsession, group=group, email="first@example.org")
    second = add_request(dbsession, new_group_name="Listed New Lab", email="second@example.org")

    listed = testapp.get("/api/v1/registrations", headers=api_headers(admin_key)).json

    by_email = {item["email"]: item for item in listed}
    assert by_email["first@example.org"] == {
        "id": {"uuid": str(first.uuid)},
        "name": "Applicant Name",
        "email": "first@example.org",
        "groupId": {"uuid": str(group.uuid), "site": group.site_id},
        "groupName": "Listed Lab",
        "newGroupName": None,
        "created": by_email["first@example.org"]["created"],
    }
    assert by_email["second@example.org"]["groupId"] is None
    assert by_email["second@example.org"]["newGroupName"] == "Listed New Lab"
    assert str(second.uuid) in {item["id"]["uuid"] for item in listed}


def test_group_admins_see_only_requests_for_their_group(testapp, dbsession):
    mine, other = make_group(dbsession), make_group(dbsession)
    admin = make_user(dbsession, group=mine, group_admin=True)
    add_request(dbsession, group=mine, email="mine@example.org")
    add_request(dbsession, group=other, email="other@example.org")
    add_request(dbsession, new_group_name="Somewhere New", email="new@example.org")

    listed = testapp.get(
        "/api/v1/registrations", headers=api_headers(make_api_key(dbsession, admin))
    ).json

    assert [item["email"] for item in listed] == ["mine@example.org"]


def test_regular_users_may_not_list_requests(testapp, dbsession):
    user = make_user(dbsession)

    response = testapp.get(
        "/api/v1/registrations", headers=api_headers(make_api_key(dbsession, user)), status=403
    )

    assert_api_error(response, 403)


def test_listing_requests_needs_a_login(testapp):
    assert_api_error(testapp.get("/api/v1/registrations", status=401), 401)


# POST /registrations/{id}/accept and /reject (in the rolled-back transaction: no mail)


def accept(testapp, key, registration_id, status=200, **answer):
    payload = {"name": "Ada Lovelace", "groupAdmin": False}
    payload.update(answer)
    return testapp.post_json(
        f"/api/v1/registrations/{registration_id}/accept",
        payload,
        headers=api_headers(key),
        status=status,
    )


def reject(testapp, key, registration_id, status=204):
    return testapp.post(
        f"/api/v1/registrations/{registration_id}/reject", headers=api_headers(key), status=status
    )


@pytest.fixture
def own_request(dbsession):
    """A request for a group, and the API key of that group's admin."""
    group = make_group(dbsession)
    admin = make_user(dbsession, group=group, group_admin=True)
    return make_api_key(dbsession, admin), add_request(dbsession, group=group)


def test_accepting_into_the_requested_group_creates_the_user(testapp, dbsession, admin_key):
    group = make_group(dbsession)
    registration = add_request(dbsession, group=group)

    answer = accept(testapp, admin_key, registration.uuid).json

    user = dbsession.scalar(sa.select(User).where(User.email == "applicant@example.org"))
    assert answer == {
        "id": {"uuid": str(user.uuid), "site": user.site_id},
        "name": "Ada Lovelace",
        "groupId": {"uuid": str(group.uuid), "site": group.site_id},
        "groupAdmin": False,
        "siteAdmin": False,
        "siteRead": False,
        "email": "applicant@example.org",
    }
    assert user.pwhash is None and user.enabled
    assert pending(dbsession, "applicant@example.org") is None
    token = dbsession.scalar(sa.select(PasswordToken).where(PasswordToken.user_id == user.id))
    assert token.purpose is TokenPurpose.PASSWORD_RESET


def test_accepting_may_create_the_new_group_as_group_admin(testapp, dbsession, admin_key):
    registration = add_request(dbsession, new_group_name="Difference Engines")

    answer = accept(
        testapp, admin_key, registration.uuid, newGroupName="Difference Engines", groupAdmin=True
    ).json

    group = dbsession.scalar(sa.select(Group).where(Group.name == "Difference Engines"))
    assert answer["groupId"]["uuid"] == str(group.uuid)
    assert answer["groupAdmin"] is True


def test_without_a_group_the_requested_new_group_is_created(testapp, dbsession, admin_key):
    registration = add_request(dbsession, new_group_name="Implied Lab")

    accept(testapp, admin_key, registration.uuid)

    assert dbsession.scalar(sa.select(Group).where(Group.name == "Implied Lab")) is not None


def test_a_site_admin_may_accept_into_another_existing_group(testapp, dbsession, admin_key):
    asked, chosen = make_group(dbsession), make_group(dbsession)
    registration = add_request(dbsession, group=asked)

    answer = accept(testapp, admin_key, registration.uuid, groupId=chosen.site_id).json

    assert answer["groupId"]["site"] == chosen.site_id


def test_accepting_into_a_duplicate_new_group_name_is_refused(testapp, dbsession, admin_key):
    make_group(dbsession, "Taken Lab")
    registration = add_request(dbsession, new_group_name="Taken Lab")

    response = accept(testapp, admin_key, registration.uuid, status=400, newGroupName="Taken Lab")

    assert_api_error(
        response, 400, field="newGroupName", message="A group with that name already exists."
    )
    assert pending(dbsession, "applicant@example.org") is not None


def test_accepting_refuses_an_empty_name_and_an_unknown_group(testapp, dbsession, admin_key):
    registration = add_request(dbsession, group=make_group(dbsession))

    response = accept(
        testapp, admin_key, registration.uuid, status=400, name="   ", groupId="DMG-99999999"
    )

    items = assert_api_error(response, 400, "ValidationError")
    assert {item["field"] for item in items} == {"name", "groupId"}


def test_accepting_refuses_both_an_existing_and_a_new_group(testapp, dbsession, admin_key):
    group = make_group(dbsession)
    registration = add_request(dbsession, group=group)

    response = accept(
        testapp,
        admin_key,
        registration.uuid,
        status=400,
        groupId=group.site_id,
        newGroupName="Another",
    )

    assert_api_error(response, 400, field="newGroupName")


def test_accepting_fails_when_the_email_meanwhile_has_an_account(testapp, dbsession, admin_key):
    registration = add_request(dbsession, group=make_group(dbsession))
    make_user(dbsession, email="Applicant@example.org")

    response = accept(testapp, admin_key, registration.uuid, status=400)

    assert_api_error(response, 400, field="email")


def test_a_group_admin_accepts_into_their_own_group(testapp, own_request):
    key, registration = own_request

    answer = accept(testapp, key, registration.uuid, groupAdmin=True).json

    assert answer["groupId"]["site"] == registration.group.site_id
    assert answer["groupAdmin"] is True


def test_another_groups_requests_do_not_exist_for_a_group_admin(testapp, dbsession):
    admin = make_user(dbsession, group_admin=True)
    registration = add_request(dbsession, group=make_group(dbsession))
    key = make_api_key(dbsession, admin)

    assert_api_error(accept(testapp, key, registration.uuid, status=404), 404, "NotFound")
    assert_api_error(reject(testapp, key, registration.uuid, status=404), 404, "NotFound")
    assert pending(dbsession, "applicant@example.org") is not None


def test_a_group_admin_may_not_move_an_applicant_to_another_group(testapp, dbsession, own_request):
    key, registration = own_request
    other = make_group(dbsession).site_id

    response = accept(testapp, key, registration.uuid, status=403, groupId=other)

    assert_api_error(response, 403)


def test_a_group_admin_cannot_tell_another_group_from_an_unknown_one(
    testapp, dbsession, own_request
):
    key, registration = own_request
    other = make_group(dbsession).site_id

    existing = accept(testapp, key, registration.uuid, status=403, groupId=other)
    unknown = accept(testapp, key, registration.uuid, status=403, groupId="DMG-99999999")

    assert existing.json == unknown.json


def test_a_group_admin_may_not_create_a_group(testapp, dbsession, own_request):
    key, registration = own_request

    response = accept(testapp, key, registration.uuid, status=403, newGroupName="Own Empire")

    assert_api_error(response, 403)
    assert dbsession.scalar(sa.select(Group).where(Group.name == "Own Empire")) is None


def test_requests_do_not_exist_for_a_regular_user(testapp, dbsession):
    group = make_group(dbsession)
    user = make_user(dbsession, group=group)
    registration = add_request(dbsession, group=group)

    response = accept(testapp, make_api_key(dbsession, user), registration.uuid, status=404)
    assert_api_error(response, 404, "NotFound")


@pytest.mark.parametrize("unknown", ["00000000-0000-4000-8000-000000000000", "nonsense"])
def test_answering_an_unknown_request_is_not_found(testapp, admin_key, unknown):
    assert_api_error(accept(testapp, admin_key, unknown, status=404), 404, "NotFound")
    assert_api_error(reject(testapp, admin_key, unknown, status=404), 404, "NotFound")


def test_rejecting_deletes_the_request(testapp, dbsession, admin_key):
    registration = add_request(dbsession, group=make_group(dbsession))

    reject(testapp, admin_key, registration.uuid)

    assert pending(dbsession, "applicant@example.org") is None
    assert dbsession.scalar(sa.select(User).where(User.email == "applicant@example.org")) is None


# Mails, really sent through SMTP once the request commits


def link_in(text):
    return re.search(r"https?://\S+", text).group(0)


def test_a_registration_notifies_site_admins_and_that_groups_admins(
    live_app, committed_db, mailbox
):
    group, other = make_group(committed_db, "Notified Lab"), make_group(committed_db)
    make_user(committed_db, site_admin=True, email="site.admin@example.org")
    make_user(committed_db, site_admin=True, email="off.admin@example.org", enabled=False)
    make_user(committed_db, group=group, group_admin=True, email="lab.admin@example.org")
    make_user(committed_db, group=group, email="lab.member@example.org")
    make_user(committed_db, group=other, group_admin=True, email="other.admin@example.org")
    committed_db.commit()

    live_app.post_json(
        "/api/v1/registrations",
        body(email="ada@example.org", org_select=group.site_id),
        status=204,
    )

    [mail] = mailbox.received()
    assert mail["Subject"] == "New registration request"
    assert "site.admin@example.org" in mail["X-RcptTo"]
    assert "lab.admin@example.org" in mail["X-RcptTo"]
    for outsider in ["off.admin@", "lab.member@", "other.admin@", "ada@"]:
        assert outsider not in mail["X-RcptTo"]
    # The admins stay hidden from each other.
    assert "admin" not in mail["To"] and mail["Bcc"] is None
    text = mailbox.body(mail)
    assert "Ada Lovelace" in text and "ada@example.org" in text and "Notified Lab" in text
    committed_db.rollback()  # a fresh snapshot, to see what the request committed
    registration = committed_db.scalar(sa.select(RegistrationRequest))
    url = urlparse(link_in(text))
    assert (url.path, url.query) == ("/admin", f"showreq={registration.uuid}")


def test_a_request_for_a_new_group_notifies_only_site_admins(live_app, committed_db, mailbox):
    make_user(committed_db, site_admin=True, email="site.admin@example.org")
    make_user(committed_db, group_admin=True, email="some.group.admin@example.org")
    committed_db.commit()

    live_app.post_json(
        "/api/v1/registrations", body(org_create=True, org_new_name="Fresh Lab"), status=204
    )

    [mail] = mailbox.received()
    assert "site.admin@example.org" in mail["X-RcptTo"]
    assert "some.group.admin@" not in mail["X-RcptTo"]
    assert "Fresh Lab" in mailbox.body(mail)


def test_a_refused_registration_sends_no_mail(live_app, committed_db, mailbox):
    make_user(committed_db, site_admin=True, email="site.admin@example.org")
    committed_db.commit()

    live_app.post_json("/api/v1/registrations", body(email="nope"), status=400)

    mailbox.settle()
    assert mailbox.messages() == []
    committed_db.rollback()
    assert committed_db.scalar(sa.select(RegistrationRequest)) is None


def test_accepting_mails_a_link_to_set_the_password(live_app, committed_db, mailbox):
    admin = make_user(committed_db, site_admin=True)
    key = make_api_key(committed_db, admin)
    registration = add_request(committed_db, group=make_group(committed_db))
    committed_db.commit()

    accept(live_app, key, registration.uuid, name="Ada King")

    [mail] = mailbox.received("applicant@example.org")
    assert mail["Subject"] == "Your registration was confirmed"
    text = mailbox.body(mail)
    assert "Dear Ada King" in text and "10 minutes" in text
    url = urlparse(link_in(text))
    assert url.path.startswith("/setpass/")
    token = url.path.removeprefix("/setpass/")
    committed_db.rollback()  # a fresh snapshot, to see what the request committed
    stored = find_token(committed_db, token, TokenPurpose.PASSWORD_RESET)
    assert stored is not None and stored.user.email == "applicant@example.org"


def test_rejecting_mails_the_applicant(live_app, committed_db, mailbox):
    admin = make_user(committed_db, site_admin=True)
    key = make_api_key(committed_db, admin)
    registration = add_request(committed_db, group=make_group(committed_db))
    committed_db.commit()

    reject(live_app, key, registration.uuid)

    [mail] = mailbox.received("applicant@example.org")
    assert mail["Subject"] == "Your registration request was rejected"
    assert "Dear Applicant Name" in mailbox.body(mail)
    committed_db.rollback()  # a fresh snapshot, to see what the request committed
    assert committed_db.scalar(sa.select(RegistrationRequest)) is None


def test_a_failed_answer_sends_no_mail(live_app, committed_db, mailbox):
    admin = make_user(committed_db, site_admin=True)
    key = make_api_key(committed_db, admin)
    make_group(committed_db, "Taken Lab")
    registration = add_request(committed_db, new_group_name="Taken Lab")
    committed_db.commit()

    accept(live_app, key, registration.uuid, status=400, newGroupName="Taken Lab")

    mailbox.settle()
    assert mailbox.messages() == []
