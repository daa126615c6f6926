"""The unauthenticated endpoints, and the one error envelope of everything under /api."""

import pytest
import webtest
from pyramid.security import NO_PERMISSION_REQUIRED

from datameta import configure
from tests.conftest import TEST_INI
from tests.helpers import assert_api_error


def test_server_info_needs_no_login(testapp):
    response = testapp.get("/api/v1/server")
    assert response.content_type == "application/json"
    assert set(response.json) == {"apiVersion", "datametaVersion"}
    assert response.json["apiVersion"].startswith("1.")


def test_health_is_ok_when_every_component_answers(testapp):
    response = testapp.get("/api/v1/health")
    assert response.status_int == 200
    assert response.json["status"] == "ok"


def test_an_unknown_api_path_answers_the_error_list(testapp):
    response = testapp.get("/api/v1/no-such-thing", status=404)
    assert_api_error(response, 404, "NotFound")


def test_a_wrong_method_answers_405_naming_the_allowed_ones(testapp):
    response = testapp.post("/api/v1/server", status=405)
    assert_api_error(response, 405, "MethodNotAllowed")
    assert response.headers["Allow"] == "GET"


def exploding_view(request):
    raise RuntimeError("secret internal detail")


@pytest.fixture(scope="module")
def exploding_app(dbengine, settings):
    config = configure(TEST_INI, dbengine=dbengine)
    config.add_route("test_boom", "/api/v1/test-boom")
    config.add_view(exploding_view, route_name="test_boom", permission=NO_PERMISSION_REQUIRED)
    return webtest.TestApp(config.make_wsgi_app())


def test_an_unexpected_exception_answers_500_without_details(exploding_app, caplog):
    response = exploding_app.get("/api/v1/test-boom", status=500)
    items = assert_api_error(response, 500, "InternalServerError")
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert items[0]["message"]
    # The details go to the log instead.
    assert "secret internal detail" in caplog.text
