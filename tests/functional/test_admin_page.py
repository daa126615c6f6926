"""/admin and /admin/{section}: each section at its own URL, for the admins it concerns."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from tests.factories import DEFAULT_PASSWORD, make_group, make_user
from tests.helpers import login

SITE_SECTIONS = ["users", "registrations", "groups", "columns", "settings", "services"]
GROUP_ADMIN_SECTIONS = ["users", "registrations"]


def open_as(testapp, user, path, status=200):
    login(testapp, user.email, DEFAULT_PASSWORD)
    return testapp.get(path, status=status)


def linked_sections(page) -> list[str]:
    nav = page.html.find("nav", {"aria-label": "Admin sections"})
    return [urlparse(link["href"]).path.rsplit("/", 1)[-1] for link in nav.find_all("a")]


@pytest.mark.parametrize("section", SITE_SECTIONS)
def test_a_site_admin_opens_every_section_at_its_own_url(testapp, dbsession, section):
    page = open_as(testapp, make_user(dbsession, site_admin=True), f"/admin/{section}")
    assert page.html.find("section", id=section) is not None
    assert linked_sections(page) == SITE_SECTIONS
    current = page.html.find("a", attrs={"aria-current": "page"})
    assert urlparse(current["href"]).path == f"/admin/{section}"


@pytest.mark.parametrize("section", GROUP_ADMIN_SECTIONS)
def test_a_group_admin_opens_users_and_requests(testapp, dbsession, section):
    page = open_as(testapp, make_user(dbsession, group_admin=True), f"/admin/{section}")
    assert page.html.find("section", id=section) is not None
    assert linked_sections(page) == GROUP_ADMIN_SECTIONS


@pytest.mark.parametrize("section", ["groups", "columns", "settings", "services"])
def test_a_group_admin_is_refused_the_site_sections(testapp, dbsession, section):
    open_as(testapp, make_user(dbsession, group_admin=True), f"/admin/{section}", status=403)


@pytest.mark.parametrize("section", SITE_SECTIONS)
def test_regular_users_are_refused_every_section(testapp, dbsession, section):
    open_as(testapp, make_user(dbsession, site_read=True), f"/admin/{section}", status=403)


def test_sections_need_a_login(testapp):
    response = testapp.get("/admin/users", status=302)
    assert urlparse(response.location).path == "/login"


def test_an_unknown_section_is_not_found(testapp, dbsession):
    open_as(testapp, make_user(dbsession, site_admin=True), "/admin/nothing-here", status=404)


def test_the_admin_page_itself_shows_the_registration_requests(testapp, dbsession):
    page = open_as(testapp, make_user(dbsession, site_admin=True), "/admin")
    assert page.html.find("section", id="registrations") is not None


def test_a_script_section_starts_with_the_api_and_the_acting_admin(testapp, dbsession):
    group = make_group(dbsession, "Lab of Admins")
    admin = make_user(dbsession, group=group, group_admin=True)
    page = open_as(testapp, admin, "/admin/users")
    app = page.html.find(id="admin-app")
    assert app["data-api"] == "/api/v1"
    assert app["data-csrf-token"]
    assert json.loads(app["data-actor"]) == {
        "id": str(admin.uuid),
        "siteAdmin": False,
        "groupAdmin": True,
        "groupId": group.site_id,
        "groupName": "Lab of Admins",
    }
    assert page.html.find("script", src="/static/js/admin/users.js") is not None
