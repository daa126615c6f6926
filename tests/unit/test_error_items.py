"""Error items on the wire: DataMeta's published Error schema, which allows no nulls."""

from datameta.errors import ErrorItem


def test_an_absent_value_leaves_its_key_out():
    assert ErrorItem(message="Broken.").as_json() == {
        "exception": "ValidationError",
        "message": "Broken.",
    }


def test_present_values_are_all_sent():
    item = ErrorItem(
        message="Taken.",
        exception="Conflict",
        error_code="name_taken",
        entity={"uuid": "u", "site": "DMR-1"},
        field="name",
    )
    assert item.as_json() == {
        "exception": "Conflict",
        "error_code": "name_taken",
        "message": "Taken.",
        "entity": {"uuid": "u", "site": "DMR-1"},
        "field": "name",
    }
