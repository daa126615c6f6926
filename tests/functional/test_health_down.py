"""Health reports each component that stops answering, by name.

This test starts a private stack of its own, so that it can stop services
without disturbing the other tests.
"""

import os

import pytest
import webtest

from datameta import make_app
from tests.conftest import TEST_INI
from tests.helpers import PrivateStack, assert_api_error


@pytest.fixture(scope="module")
def private_stack():
    stack = PrivateStack(int(os.environ.get("TEST_PORT_BASE", "17400")) + 100, "datameta-health-")
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def down_components(response):
    return {item["field"] for item in assert_api_error(response, 503, "ServiceUnavailable")}


def test_health_names_each_component_that_is_down(private_stack):
    app = webtest.TestApp(make_app(TEST_INI, environ=private_stack.environ))
    assert app.get("/api/v1/health").status_int == 200

    private_stack.stop("memcached")
    assert down_components(app.get("/api/v1/health", status=503)) == {"memcached"}

    private_stack.stop("weed")
    assert down_components(app.get("/api/v1/health", status=503)) == {"memcached", "storage"}

    private_stack.stop_postgres()
    assert down_components(app.get("/api/v1/health", status=503)) == {
        "memcached",
        "storage",
        "database",
    }
