"""The registration page and the registration requests on the admin page."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from datameta.models import Group, User
from tests.factories import (
    DEFAULT_PASSWORD,
    add_request,
    make_group,
    make_user,
    pending,
    set_app_setting,
)
from tests.helpers import login, registration_form


def error_next_to(page, field_id):
    """The message shown under the field with ``field_id``, or None."""
    feedback = page.html.find(id=f"{field_id}-error")
    return None if feedback is None else feedback.get_text(" ", strip=True)


def link_in(text):
    return re.search(r"https?://\S+", text).group(0)


# /register


def test_the_form_offers_the_groups_and_carries_a_csrf_token(testapp, dbsession):
    group = make_group(dbsession, "Visible Lab")

    page = testapp.get("/register")

    form = page.forms["register-form"]
    assert form["csrf_token"].value
    options = [value for value, _selected, _text in form["org_select"].options]
    assert group.site_id in options
    assert "Visible Lab" in page.text
    assert page.html.find(id="check_user_agreement") is None
    for field_id in ["name", "email", "org_select", "org_new_name"]:
        assert page.html.find("label", attrs={"for": field_id}) is not None


def test_a_registration_through_the_page_is_confirmed(testapp, dbsession):
    group = make_group(dbsession)
    form = registration_form(
        testapp, name="Ada Lovelace", email="Ada@Example.org", org_select=group.site_id
    )

    page = form.submit(status=200)

    assert "Your request was sent" in page.text
    assert "ada@example.org" in page.text
    assert pending(dbsession, "ada@example.org").group_id == group.id


def test_a_registration_may_ask_for_a_new_group(testapp, dbsession):
    form = registration_form(
        testapp,
        name="Ada Lovelace",
        email="ada@example.org",
        org_create="new",
        org_new_name="Engine Room",
    )

    form.submit(status=200)

    assert pending(dbsession, "ada@example.org").new_group_name == "Engine Room"


def test_each_problem_is_shown_next_to_its_field_and_the_input_is_kept(testapp, dbsession):
    make_user(dbsession, email="taken@example.org")
    form = registration_form(testapp, name="  ", email="taken@example.org")

    page = form.submit(status=400)

    assert error_next_to(page, "name") == "Please enter your name."
    assert error_next_to(page, "email") == "An account with this email address exists already."
    assert error_next_to(page, "org_select") == "Please choose a group."
    assert page.forms["register-form"]["email"].value == "taken@example.org"
    assert pending(dbsession, "taken@example.org") is None


def test_a_malformed_email_and_a_pending_one_are_refused(testapp, dbsession):
    group = make_group(dbsession)
    add_request(dbsession, group=group, email="waiting@example.org")
    form = registration_form(testapp, name="Ada", org_select=group.site_id)

    form["email"] = "not an email"
    assert error_next_to(form.submit(status=400), "email") == "Please enter a valid email address."
    form["email"] = "WAITING@example.org"
    assert "waiting for an answer" in error_next_to(form.submit(status=400), "email")


def test_a_new_group_needs_a_free_name(testapp, dbsession):
    make_group(dbsession, "Existing Lab")
    form = registration_form(testapp, name="Ada", email="ada@example.org", org_create="new")

    form["org_new_name"] = ""
    assert error_next_to(form.submit(status=400), "org_new_name")
    form["org_new_name"] = "EXISTING LAB"
    page = form.submit(status=400)
    assert error_next_to(page, "org_new_name") == "A group with that name already exists."
    # The choice of a new group survives the round trip.
    assert page.forms["register-form"]["org_create"].value == "new"


def test_hidden_groups_are_not_listed_and_a_group_id_is_asked_for(testapp, dbsession):
    group = make_group(dbsession, "Secret Lab")
    set_app_setting(dbsession, "registration_show_groups", False)

    page = testapp.get("/register")

    assert "Secret Lab" not in page.text
    form = page.forms["register-form"]
    assert page.html.find("input", id="org_select") is not None
    form["name"] = "Ada"
    form["email"] = "ada@example.org"
    form["org_select"] = "DMG-99999999"
    assert error_next_to(form.submit(status=400), "org_select") == "There is no group with this id."
    form["org_select"] = group.site_id
    form.submit(status=200)
    assert pending(dbsession, "ada@example.org").group_id == group.id


def test_the_user_agreement_is_sanitized_and_must_be_accepted(testapp, dbsession):
    group = make_group(dbsession)
    set_app_setting(
        dbsession,
        "user_agreement",
        '<p>Read the <a href="https://example.org/terms" onclick="evil()">terms</a>.</p>'
        "<script>alert('x')</script><img src=x onerror=evil()>",
    )

    page = testapp.get("/register")

    assert "alert('x')" not in page.text
    assert "onerror" not in page.text and "onclick" not in page.text
    agreement = page.html.find(class_="user-agreement")
    assert agreement.find("a")["href"] == "https://example.org/terms"
    assert [script.get("src") for script in page.html.find_all("script")] == [
        "/static/vendor/bootstrap.bundle.min.js",
        "/static/js/register.js",
    ]
    form = page.forms["register-form"]
    form["name"] = "Ada"
    form["email"] = "ada@example.org"
    form["org_select"] = group.site_id
    refused = form.submit(status=400)
    assert error_next_to(refused, "check_user_agreement") == "Please accept the user agreement."
    form["check_user_agreement"] = True
    form.submit(status=200)


def test_a_post_without_the_csrf_token_is_refused(testapp, dbsession):
    group = make_group(dbsession)
    testapp.get("/register")

    page = testapp.post(
        "/register",
        {"name": "Ada", "email": "ada@example.org", "org_select": group.site_id},
        status=400,
    )

    assert "The form has expired" in page.text
    assert pending(dbsession, "ada@example.org") is None


def test_registering_through_the_page_notifies_the_admins(live_app, committed_db, mailbox):
    group = make_group(committed_db, "Mailed Lab")
    make_user(committed_db, site_admin=True, email="site.admin@example.org")
    make_user(committed_db, group=group, group_admin=True, email="lab.admin@example.org")
    make_user(committed_db, group_admin=True, email="elsewhere.admin@example.org")
    committed_db.commit()
    form = registration_form(
        live_app, name="Ada Lovelace", email="ada@example.org", org_select=group.site_id
    )

    form.submit(status=200)

    [mail] = mailbox.received("lab.admin@example.org")
    assert "site.admin@example.org" in mail["X-RcptTo"]
    assert "elsewhere.admin@" not in mail["X-RcptTo"]
    assert "/admin?showreq=" in mailbox.body(mail)


# /admin: who may open it


def test_the_admin_page_needs_a_login(testapp):
    response = testapp.get("/admin", status=302)

    assert urlparse(response.location).path == "/login"


def test_regular_users_may_not_open_the_admin_page(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)

    page = testapp.get("/admin", status=403)

    assert "Not allowed" in page.text


@pytest.fixture
def site_admin(dbsession):
    return make_user(dbsession, site_admin=True, email="root@example.org")


def admin_page(testapp, user, query=""):
    login(testapp, user.email, DEFAULT_PASSWORD)
    return testapp.get(f"/admin{query}")


def accept_form(page, registration):
    return page.forms[f"request-{registration.uuid}-accept"]


def test_site_admins_see_every_request_with_its_details(testapp, dbsession, site_admin):
    group = make_group(dbsession, "Requested Lab")
    add_request(dbsession, group=group, email="first@example.org")
    add_request(dbsession, new_group_name="Wished-for Lab", email="second@example.org")

    page = admin_page(testapp, site_admin)

    assert "Registration requests" in page.text
    for text in ["first@example.org", "Requested Lab", "second@example.org", "Wished-for Lab"]:
        assert text in page.text
    assert page.html.find("time") is not None


def test_group_admins_see_only_their_groups_requests_and_cannot_create_groups(testapp, dbsession):
    group = make_group(dbsession)
    admin = make_user(dbsession, group=group, group_admin=True)
    mine = add_request(dbsession, group=group, email="mine@example.org")
    add_request(dbsession, group=make_group(dbsession), email="theirs@example.org")
    add_request(dbsession, new_group_name="Elsewhere", email="new@example.org")

    page = admin_page(testapp, admin)

    assert "mine@example.org" in page.text
    assert "theirs@example.org" not in page.text and "new@example.org" not in page.text
    form = accept_form(page, mine)
    assert "new_group_name" not in form.fields
    assert [value for value, _, _ in form["group_id"].options] == [group.site_id]


def test_the_deep_link_opens_and_highlights_the_request(testapp, dbsession, site_admin):
    group = make_group(dbsession)
    linked = add_request(dbsession, group=group, email="linked@example.org")
    other = add_request(dbsession, group=group, email="other@example.org")

    page = admin_page(testapp, site_admin, f"?showreq={linked.uuid}")

    shown = page.html.find(id=f"request-{linked.uuid}")
    assert shown.has_attr("open") and "highlighted" in shown["class"]
    assert not page.html.find(id=f"request-{other.uuid}").has_attr("open")
    assert "does not exist or was already answered" not in page.text


def test_a_deep_link_to_an_answered_request_says_so(testapp, dbsession, site_admin):
    page = admin_page(testapp, site_admin, "?showreq=00000000-0000-4000-8000-000000000000")

    assert "does not exist or was already answered" in page.text


def test_a_deep_link_to_another_groups_request_looks_answered_to_a_group_admin(testapp, dbsession):
    admin = make_user(dbsession, group_admin=True)
    theirs = add_request(dbsession, group=make_group(dbsession))

    page = admin_page(testapp, admin, f"?showreq={theirs.uuid}")

    assert "does not exist or was already answered" in page.text
    assert "applicant@example.org" not in page.text


# /admin: answering


def test_accepting_with_an_edited_name_creates_the_user(testapp, dbsession, site_admin):
    group = make_group(dbsession, "Joined Lab")
    registration = add_request(dbsession, group=group)
    form = accept_form(admin_page(testapp, site_admin), registration)
    form["name"] = "Applicant Proper Name"
    form["group_admin"] = True

    response = form.submit(status=302)

    page = response.follow()
    assert "Applicant Proper Name now has an account in Joined Lab" in page.text
    user = dbsession.scalar(sa.select(User).where(User.email == "applicant@example.org"))
    assert (user.fullname, user.group_id, user.group_admin) == (
        "Applicant Proper Name",
        group.id,
        True,
    )
    assert user.pwhash is None and not user.site_admin and not user.site_read
    assert pending(dbsession, "applicant@example.org") is None


def test_a_site_admin_accepts_into_a_new_group(testapp, dbsession, site_admin):
    registration = add_request(dbsession, new_group_name="Asked-for Lab")
    form = accept_form(admin_page(testapp, site_admin), registration)
    assert form["group_choice"].value == "new"
    form["new_group_name"] = "Renamed Lab"

    form.submit(status=302)

    user = dbsession.scalar(sa.select(User).where(User.email == "applicant@example.org"))
    assert user.group.name == "Renamed Lab"


def test_a_site_admin_may_put_a_new_group_request_into_an_existing_group(
    testapp, dbsession, site_admin
):
    existing = make_group(dbsession, "Existing Lab")
    registration = add_request(dbsession, new_group_name="Wished Lab")
    form = accept_form(admin_page(testapp, site_admin), registration)
    form["group_choice"] = "existing"
    form["group_id"] = existing.site_id

    form.submit(status=302)

    user = dbsession.scalar(sa.select(User).where(User.email == "applicant@example.org"))
    assert user.group_id == existing.id
    assert dbsession.scalar(sa.select(Group).where(Group.name == "Wished Lab")) is None


def test_accept_problems_are_shown_next_to_the_fields_of_that_request(
    testapp, dbsession, site_admin
):
    make_group(dbsession, "Taken Lab")
    registration = add_request(dbsession, new_group_name="Taken Lab")
    other = add_request(dbsession, group=make_group(dbsession), email="other@example.org")
    form = accept_form(admin_page(testapp, site_admin), registration)
    form["name"] = ""

    page = form.submit(status=400)

    anchor = f"request-{registration.uuid}"
    assert error_next_to(page, f"{anchor}-name") == "Please enter the full name."
    assert error_next_to(page, f"{anchor}-newname") == "A group with that name already exists."
    assert page.html.find(id=anchor).has_attr("open")
    assert not page.html.find(id=f"request-{other.uuid}").has_attr("open")
    assert accept_form(page, registration)["new_group_name"].value == "Taken Lab"
    assert pending(dbsession, "applicant@example.org") is not None


def test_choosing_a_new_group_without_a_name_is_refused(testapp, dbsession, site_admin):
    registration = add_request(dbsession, group=make_group(dbsession))
    form = accept_form(admin_page(testapp, site_admin), registration)
    form["group_choice"] = "new"
    form["new_group_name"] = "  "

    page = form.submit(status=400)

    assert error_next_to(page, f"request-{registration.uuid}-newname")


def test_accepting_an_email_that_meanwhile_has_an_account_is_refused(
    testapp, dbsession, site_admin
):
    registration = add_request(dbsession, group=make_group(dbsession))
    form = accept_form(admin_page(testapp, site_admin), registration)
    make_user(dbsession, email="applicant@example.org")

    page = form.submit(status=400)

    assert "An account with this email address exists already." in page.text


def test_a_group_admin_accepts_into_their_own_group(testapp, dbsession):
    group = make_group(dbsession)
    admin = make_user(dbsession, group=group, group_admin=True)
    registration = add_request(dbsession, group=group)

    accept_form(admin_page(testapp, admin), registration).submit(status=302)

    user = dbsession.scalar(sa.select(User).where(User.email == "applicant@example.org"))
    assert user.group_id == group.id


def test_a_group_admin_may_not_answer_another_groups_request(testapp, dbsession):
    group = make_group(dbsession)
    admin = make_user(dbsession, group=group, group_admin=True)
    mine = add_request(dbsession, group=group, email="mine@example.org")
    theirs = add_request(dbsession, group=make_group(dbsession), email="theirs@example.org")
    page = admin_page(testapp, admin)
    form = accept_form(page, mine)
    form["request_id"].force_value(str(theirs.uuid))

    # Another group's request does not exist for this admin: answered as already gone.
    assert "does not exist or was already answered" in form.submit(status=302).follow().text
    reject = page.forms[f"request-{mine.uuid}-reject"]
    reject["request_id"].force_value(str(theirs.uuid))
    reject.submit(status=302)
    assert pending(dbsession, "theirs@example.org") is not None


def test_a_group_admin_may_not_create_a_group_through_a_crafted_form(testapp, dbsession):
    group = make_group(dbsession)
    admin = make_user(dbsession, group=group, group_admin=True)
    registration = add_request(dbsession, group=group)
    form = accept_form(admin_page(testapp, admin), registration)
    form["group_choice"].force_value("new")
    fields = dict(form.submit_fields())
    fields["new_group_name"] = "Own Empire"

    testapp.post("/admin", fields, status=403)

    assert dbsession.scalar(sa.select(Group).where(Group.name == "Own Empire")) is None


def test_answering_an_answered_request_says_so(testapp, dbsession, site_admin):
    registration = add_request(dbsession, group=make_group(dbsession))
    page = admin_page(testapp, site_admin)
    form = accept_form(page, registration)
    dbsession.delete(registration)
    dbsession.flush()

    response = form.submit(status=302)

    assert "does not exist or was already answered" in response.follow().text


def test_rejecting_removes_the_request(testapp, dbsession, site_admin):
    registration = add_request(dbsession, group=make_group(dbsession))
    page = admin_page(testapp, site_admin)

    response = page.forms[f"request-{registration.uuid}-reject"].submit(status=302)

    assert "was rejected" in response.follow().text
    assert pending(dbsession, "applicant@example.org") is None


def test_answers_through_the_page_are_mailed(live_app, committed_db, mailbox):
    admin = make_user(committed_db, site_admin=True, email="root@example.org")
    group = make_group(committed_db, "Mail Lab")
    accepted = add_request(committed_db, group=group, email="accepted@example.org")
    rejected = add_request(committed_db, group=group, email="rejected@example.org")
    committed_db.commit()
    page = admin_page(live_app, admin)

    accept_form(page, accepted).submit(status=302)
    page.forms[f"request-{rejected.uuid}-reject"].submit(status=302)

    [welcome] = mailbox.received("accepted@example.org")
    assert urlparse(link_in(mailbox.body(welcome))).path.startswith("/setpass/")
    [rejection] = mailbox.received("rejected@example.org")
    assert rejection["Subject"] == "Your registration request was rejected"
