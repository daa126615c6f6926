"""The API documents itself: its OpenAPI spec and an explorer served without any CDN."""

import yaml


def test_the_spec_is_served_and_names_every_route(testapp):
    response = testapp.get("/api/v1/openapi.yaml")
    spec = yaml.safe_load(response.body)
    assert spec["openapi"].startswith("3.")
    assert "/metadatasets" in spec["paths"]
    assert "/submissions" in spec["paths"]


def test_the_explorer_uses_only_local_files(testapp):
    page = testapp.get("/api/v1")
    assert "/static/vendor/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.replace('data-spec-url="/api/v1/openapi.yaml"', "")
    assert "<script>" not in page.text  # no inline script: the CSP forbids it


def test_api_redirects_to_the_explorer(testapp):
    assert testapp.get("/api", status=302).headers["Location"].endswith("/api/v1")
