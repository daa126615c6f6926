"""Assertions and shortcuts that read well in tests."""

from __future__ import annotations

import functools
from typing import Any

import webtest

ERROR_KEYS = {"exception", "error_code", "message", "entity", "field"}
# DataMeta's published Error schema: only these are always there, and no value is ever null.
ALWAYS_KEYS = {"exception", "message"}


def assert_api_error(
    response: Any,
    status: int,
    exception: str | None = None,
    *,
    field: str | None = None,
    message: str | None = None,
) -> list[dict[str, Any]]:
    """Assert ``response`` is DataMeta's error list with ``status``; return its items.

    With ``exception``, ``field`` or ``message``, some item must match all given ones.
    """
    assert response.status_int == status, f"expected {status}, got {response.status}"
    assert response.content_type == "application/json"
    items = response.json
    assert isinstance(items, list) and items, f"not an error list: {items!r}"
    for item in items:
        assert ALWAYS_KEYS <= set(item) <= ERROR_KEYS, f"error item has keys {sorted(item)}"
        assert None not in item.values(), f"error item with a null: {item}"
        assert isinstance(item["message"], str) and item["message"]
    wanted = {"exception": exception, "field": field, "message": message}
    wanted = {key: value for key, value in wanted.items() if value is not None}
    if wanted:
        assert any(
            all(item.get(key) == value for key, value in wanted.items()) for item in items
        ), f"no error item matches {wanted}: {items}"
    return items


def client_in_transaction(
    wsgi_app: Any, tm: Any, dbsession: Any, *, host: str = "localhost"
) -> webtest.TestApp:
    """A client of ``wsgi_app`` whose requests join the test's transaction and DB session.

    Each such client keeps its own cookies: two of them are two browsers.
    """
    environ = {"HTTP_HOST": host, "tm.active": True, "tm.manager": tm, "app.dbsession": dbsession}
    return webtest.TestApp(wsgi_app, extra_environ=environ)


def committing_client(wsgi_app: Any, **environ: str) -> webtest.TestApp:
    """A client of ``wsgi_app`` with real transactions: each request commits or aborts."""
    return webtest.TestApp(wsgi_app, extra_environ={"HTTP_HOST": "localhost", **environ})


def api_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}


def csrf_token(testapp: Any) -> str:
    """The CSRF token of the test client's current session (opening a page creates one)."""
    page = testapp.get("/login")
    return page.html.find("input", {"name": "csrf_token"})["value"]


def login(testapp: Any, email: str, password: str, *, status: int = 302) -> Any:
    """Log in through the login form (fields email, password, csrf_token)."""
    form_page = testapp.get("/login")
    token = form_page.html.find("input", {"name": "csrf_token"})["value"]
    return testapp.post(
        "/login", {"email": email, "password": password, "csrf_token": token}, status=status
    )


@functools.cache
def registration_form(client: Any, **fields: str) -> Any:
    """The registration page's form, filled in with ``fields``."""
    form = client.get("/register").forms["register-form"]
    for name, value in fields.items():
        form[name] = value
    return form


def _openapi() -> Any:
    from openapi_core import OpenAPI

    from datameta.api import SPEC_PATH

    return OpenAPI.from_file_path(SPEC_PATH)


def assert_matches_spec(response: Any, method: str, path: str) -> None:
    """Check a response of a view the OpenAPI layer does not validate by itself."""
    from openapi_core.testing import MockRequest, MockResponse

    request = MockRequest("http://localhost", method.lower(), path)
    mock = MockResponse(
        response.body, status_code=response.status_int, content_type=response.content_type
    )
    _openapi().validate_response(request, mock)
