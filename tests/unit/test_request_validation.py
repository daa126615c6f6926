"""The API's request validation answers exactly what openapi-core answers, only faster.

Every operation of openapi.yaml that takes a JSON body is asked with valid and with
broken bodies, with and without credentials, twice (the second time from what the
first remembered); the unmarshalled body, the parameters and the error list the
client would see must equal openapi-core's own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema_path import SchemaPath
from openapi_core import V30RequestUnmarshaller
from openapi_core.testing import MockRequest
from openapi_spec_validator.readers import read_from_filename

from datameta.api import SPEC_PATH
from datameta.api.errors import openapi_error_items
from datameta.api.validation import CompiledRequestUnmarshaller, unmarshals_as_parsed

SPEC_DICT, _ = read_from_filename(SPEC_PATH)
SPEC = SchemaPath.from_dict(SPEC_DICT)
ORIGINAL = V30RequestUnmarshaller(SPEC)
COMPILED = CompiledRequestUnmarshaller(SPEC)
# Prepared as the server prepares it before forking its workers (datameta.warm_up).
PREPARED = CompiledRequestUnmarshaller(SPEC)
PREPARED.prepare()
BEARER = {"Authorization": "Bearer some-key"}
# Every way the Authorization header can pass or fail the HTTP bearer scheme.
AUTHORIZATIONS: list[dict[str, str]] = [
    BEARER,
    {},
    {"Authorization": "bearer some-key"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Cookie": "datameta=abc"},
]

RECORD = {"C01": "S1", "C02": "2024-01-31", "C03": None}
# Bodies that are right for some operations and wrong for most: every operation gets each.
BODIES: list[Any] = [
    {},
    [],
    None,
    "text",
    17,
    {"record": RECORD},
    {"record": {"C01": 5}},
    {"record": RECORD, "extra": 1},
    {"name": "reads.fq", "checksum": "0" * 32},
    {"name": "reads.fq", "checksum": 5},
    {"name": None},
    {"metadatasetIds": ["DMR-1"], "fileIds": ["DMF-1"], "label": "l"},
    {"metadatasetIds": "DMR-1", "fileIds": [1]},
    {"email": "a@example.org", "password": "x", "label": "k"},
    {"contentUploaded": True},
    {"contentUploaded": "yes"},
    {"value": {"a": 1}},
]
RAW_BODIES = [b"", b"{", b"[1, 2", b"NaN", b'{"record": {"C01": "S1"}} trailing']


QUERIES: list[dict[str, Any]] = [
    {},
    {"limit": "10", "offset": "0"},
    {"limit": "ten"},
    {"isoDates": "true"},
    {"isoDates": "maybe"},
    {"submittedAfter": "2024-01-01T00:00:00Z"},
    {"submittedAfter": "yesterday"},
    {"filter": ["C01:contains:S1", "C02:equals:x"], "sort": "-submittedAt"},
    {"expires": "5", "redirect": "true"},
    {"directUpload": "true"},
    {"q": "S1 word", "sort": "record.C01", "format": "csv"},
    {"sort": "", "format": "pdf", "awaitingService": "x"},
]
METHODS = {"get", "put", "post", "delete", "patch"}


def operations_with_parameters() -> list[tuple[str, str]]:
    found = []
    for path, item in SPEC_DICT["paths"].items():
        for method, operation in item.items():
            if method in METHODS and (operation.get("parameters") or item.get("parameters")):
                found.append((path, method))
    return found


def json_operations() -> list[tuple[str, str]]:
    found = []
    for path, item in SPEC_DICT["paths"].items():
        for method, operation in item.items():
            content = (
                operation.get("requestBody", {}).get("content", {})
                if isinstance(operation, dict)
                else {}
            )
            if "application/json" in content:
                found.append((path, method))
    return found


def request(
    path: str, method: str, body: bytes, headers: dict[str, str], query: Any = None
) -> MockRequest:
    view_args = {name.strip("{}"): "DMX-1" for name in path.split("/") if name.startswith("{")}
    return MockRequest(
        "http://localhost",
        method,
        "/api/v1" + path,
        path_pattern="/api/v1" + path,
        view_args=view_args,
        args=query,
        headers=headers,
        data=body,
        content_type="application/json",
    )


def answer(unmarshaller: V30RequestUnmarshaller, req: MockRequest) -> dict[str, Any]:
    result = unmarshaller.unmarshal(req)
    return {
        "body": result.body,
        "parameters": result.parameters,
        "security": result.security,
        "errors": [item.as_json() for item in openapi_error_items(result.errors)],
        "error_types": [type(error) for error in result.errors],
    }


@pytest.mark.parametrize(("path", "method"), json_operations())
def test_every_json_operation_answers_as_openapi_core_does(path: str, method: str) -> None:
    raw = [json.dumps(body).encode() for body in BODIES] + RAW_BODIES
    for body in raw:
        for headers in AUTHORIZATIONS:
            expected = answer(ORIGINAL, request(path, method, body, headers))
            for _ in range(2):  # the first time builds what the second reuses
                assert answer(COMPILED, request(path, method, body, headers)) == expected, (
                    method,
                    path,
                    body,
                    headers,
                )
            prepared = answer(PREPARED, request(path, method, body, headers))
            assert prepared == expected, (method, path, body, headers)


@pytest.mark.parametrize(("path", "method"), operations_with_parameters())
def test_parameters_are_answered_as_openapi_core_does(path: str, method: str) -> None:
    for query in QUERIES:
        expected = answer(ORIGINAL, request(path, method, b"", BEARER, query))
        for _ in range(2):
            got = answer(COMPILED, request(path, method, b"", BEARER, query))
            assert got == expected, (method, path, query)
        prepared = answer(PREPARED, request(path, method, b"", BEARER, query))
        assert prepared == expected, (method, path, query)


def stage(body: Any) -> dict[str, Any]:
    return answer(COMPILED, request("/metadatasets", "post", json.dumps(body).encode(), BEARER))


def test_preparing_builds_every_json_bodys_validator_before_any_request() -> None:
    prepared = CompiledRequestUnmarshaller(SPEC)
    prepared.prepare()
    built = {key[:-1] for key, body in prepared._bodies.items() if body is not None}
    assert {("paths", path, method) for path, method in json_operations()} <= built


def test_a_staged_record_is_answered_as_parsed_and_a_wrong_body_names_its_field() -> None:
    ok = stage({"record": RECORD})
    assert ok["errors"] == [] and ok["body"] == {"record": RECORD}
    assert [error["field"] for error in stage({})["errors"]] == ["record"]
    assert [error["field"] for error in stage({"record": RECORD, "x": 1})["errors"]] == ["x"]


def test_schemas_with_formats_or_defaults_are_left_to_openapi_core_to_unmarshal() -> None:
    spec = {"components": {"schemas": {"When": {"type": "string", "format": "date-time"}}}}
    assert unmarshals_as_parsed(spec, {"type": "object", "properties": {"a": {"type": "string"}}})
    dated = {"properties": {"a": {"$ref": "#/components/schemas/When"}}}
    assert not unmarshals_as_parsed(spec, dated)
    assert not unmarshals_as_parsed(spec, {"properties": {"a": {"type": "integer", "default": 3}}})
    # An enum or example that happens to hold such a key is data, not schema.
    assert unmarshals_as_parsed(spec, {"type": "object", "example": {"format": "x"}})
