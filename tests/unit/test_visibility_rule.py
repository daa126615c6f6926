"""The one rule of visibility: what the caller may not see is answered like an unknown id."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from datameta.errors import NotFound
from datameta.logic.ids import not_found, visible_or_not_found


@dataclass(frozen=True)
class Thing:
    owner: str


def only_alice(thing: Thing) -> bool:
    return thing.owner == "alice"


def items_of(error: NotFound) -> list[dict]:
    return [item.as_json() for item in error.items]


def test_a_visible_entity_is_answered():
    thing = Thing("alice")
    assert visible_or_not_found(thing, "DMX-1", only_alice, "Thing") is thing


def test_an_invisible_entity_raises_exactly_what_an_unknown_id_raises():
    with pytest.raises(NotFound) as hidden:
        visible_or_not_found(Thing("bob"), "DMX-1", only_alice, "Thing")
    with pytest.raises(NotFound) as unknown:
        visible_or_not_found(None, "DMX-1", only_alice, "Thing")
    expected = items_of(not_found("Thing", "DMX-1"))
    assert items_of(hidden.value) == items_of(unknown.value) == expected
    assert hidden.value.status == unknown.value.status == 404


def test_the_answer_echoes_only_the_given_id():
    with pytest.raises(NotFound) as hidden:
        visible_or_not_found(Thing("bob"), "DMX-7", only_alice, "Thing")
    (item,) = items_of(hidden.value)
    assert item["entity"] == {"uuid": "DMX-7", "site": "DMX-7"}
    assert "bob" not in str(item)


def test_visibility_is_not_asked_about_an_id_that_names_nothing():
    def must_not_be_called(thing: Thing) -> bool:
        raise AssertionError("asked about nothing")

    with pytest.raises(NotFound):
        visible_or_not_found(None, "DMX-1", must_not_be_called, "Thing")
