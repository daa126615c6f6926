"""The pages where submitted data is found: they need a session and use the public API."""

from __future__ import annotations

from tests.factories import DEFAULT_PASSWORD, make_user
from tests.helpers import login


def test_the_view_page_needs_a_session(testapp):
    response = testapp.get("/view", status=(302, 303))
    assert "/login" in response.headers["Location"]


def test_the_view_page_is_a_client_of_the_api(testapp, dbsession):
    user = make_user(dbsession)
    login(testapp, user.email, DEFAULT_PASSWORD)
    page = testapp.get("/view")
    app = page.html.select_one("#view-app")
    assert app["data-api"] == "/api/v1"
    assert page.html.select_one("script[type=module]")["src"] == "/static/js/view/main.js"
