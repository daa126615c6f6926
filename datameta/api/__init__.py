"""The JSON API under /api/v1: thin views over datameta.logic, validated against openapi.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.router import Router

from datameta.api.errors import openapi_error_items
from datameta.api.express import ExpressLane, express_route

SPEC_PATH = os.path.join(os.path.dirname(__file__), "openapi.yaml")


def extract_errors(
    request: Request, errors: list[Exception], parent_field: Any = None
) -> Iterator[dict]:
    """Turn what the OpenAPI validation found into DataMeta's error list."""
    for item in openapi_error_items(errors):
        yield item.as_json()


def express_lane(app: Router) -> ExpressLane:
    """``app`` behind the express lane of the calls scripts make most."""
    from datameta.api.files import express_announcement, express_file_update
    from datameta.api.metadatasets import express_staging

    routes = [
        express_route("api_metadatasets", "POST", "/metadatasets", express_staging),
        express_route("api_files", "POST", "/files", express_announcement),
        express_route("api_file", "PUT", "/files/{id}", express_file_update),
    ]
    return ExpressLane(app, routes)


def includeme(config: Configurator) -> None:
    # Requests (and, where enabled, responses) are checked against the spec.
    config.registry.settings["pyramid_openapi3_extract_errors"] = extract_errors
    config.include("pyramid_openapi3")
    config.pyramid_openapi3_spec(SPEC_PATH, route="/api/v1/openapi.yaml", route_name="api_spec")
    # The same checks with what is the same for every request done once per operation.
    config.include(".validation")
    config.add_tween(
        "datameta.api.submissions.submissions_in_turn_tween_factory",
        over="pyramid_tm.tm_tween_factory",
    )
    config.scan(".")
