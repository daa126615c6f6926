"""The API's own OpenAPI document is valid, and every operation is documented."""

import yaml
from openapi_spec_validator import validate

from datameta.api import SPEC_PATH

METHODS = {"get", "put", "post", "delete", "patch"}


def load():
    with open(SPEC_PATH) as spec_file:
        return yaml.safe_load(spec_file)


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi():
    validate(load())


def test_every_operation_has_an_id_a_summary_and_a_known_tag():
    spec = load()
    tags = {tag["name"] for tag in spec["tags"]}
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        assert operation.get("operationId"), where
        assert operation.get("summary"), where
        assert set(operation.get("tags", [])) <= tags and operation.get("tags"), where


def test_every_operation_answers_errors_in_the_error_list():
    for path, method, operation in operations(load()):
        assert "default" in operation["responses"], f"{method.upper()} {path}"


def test_error_items_are_documented_as_published_only_message_required_nothing_null():
    schemas = load()["components"]["schemas"]
    error = schemas["Error"]
    assert error["required"] == ["message"]
    assert error["additionalProperties"] is False
    assert error["properties"]["entity"] == {"$ref": "#/components/schemas/Identifier"}
    assert not any(prop.get("nullable") for prop in error["properties"].values())
