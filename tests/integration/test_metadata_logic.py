"""Site admins define the sample sheet's columns; bad definitions are refused with reasons."""

from dataclasses import replace

import pytest
from sqlalchemy import text

from datameta.db import recorded_statements
from datameta.errors import Conflict, Forbidden, NotFound, ValidationFailed
from datameta.logic.metadata import (
    definitions,
    delete_definition,
    forget_definitions,
    list_definitions,
    save_definition,
)
from datameta.logic.metadatasets import stage_metadataset
from datameta.models import Service
from tests.factories import SAMPLE_ID, make_user


@pytest.fixture
def admin(dbsession):
    return make_user(dbsession, site_admin=True)


def fields_of(error: ValidationFailed) -> set[str]:
    return {item.field for item in error.items}


def test_empty_strings_are_stored_as_missing_but_the_example_verbatim(dbsession, admin):
    definition = save_definition(dbsession, admin, replace(SAMPLE_ID, example=""))
    assert definition.long_description is None
    assert definition.datetimefmt is None
    assert definition.example == ""
    assert definition.service is None


def test_definitions_are_listed_in_display_order(dbsession, admin):
    save_definition(dbsession, admin, replace(SAMPLE_ID, name="Second", order=20))
    save_definition(dbsession, admin, replace(SAMPLE_ID, name="First", order=5))
    assert [d.name for d in list_definitions(dbsession)] == ["First", "Second"]


def test_only_site_admins_define_metadata(dbsession):
    with pytest.raises(Forbidden):
        save_definition(dbsession, make_user(dbsession, group_admin=True), SAMPLE_ID)


def test_names_are_unique_and_not_empty(dbsession, admin):
    save_definition(dbsession, admin, SAMPLE_ID)
    with pytest.raises(ValidationFailed) as duplicate:
        save_definition(dbsession, admin, SAMPLE_ID)
    assert fields_of(duplicate.value) == {"name"}
    with pytest.raises(ValidationFailed) as empty:
        save_definition(dbsession, admin, replace(SAMPLE_ID, name="  "))
    assert fields_of(empty.value) == {"name"}


def test_an_invalid_pattern_and_format_are_refused_together(dbsession, admin):
    with pytest.raises(ValidationFailed) as raised:
        save_definition(
            dbsession, admin, replace(SAMPLE_ID, regexp="(a)\\1", datetime_format="no directive")
        )
    assert fields_of(raised.value) == {"regExp", "dateTimeFmt"}


def test_an_unknown_service_is_not_found(dbsession, admin):
    with pytest.raises(NotFound):
        save_definition(dbsession, admin, replace(SAMPLE_ID, service_id="DMP-99999999"))


def test_a_definition_can_name_its_service_by_site_id(dbsession, admin):
    service = Service(name="QC")
    dbsession.add(service)
    dbsession.flush()
    definition = save_definition(dbsession, admin, replace(SAMPLE_ID, service_id=service.site_id))
    assert definition.service is service


def test_updating_replaces_every_attribute_and_keeps_the_name_free_for_itself(dbsession, admin):
    definition = save_definition(dbsession, admin, SAMPLE_ID)
    changed = save_definition(
        dbsession, admin, replace(SAMPLE_ID, mandatory=False), str(definition.uuid)
    )
    assert changed is definition
    assert definition.mandatory is False


def test_a_definition_in_use_cannot_be_deleted(dbsession, admin):
    definition = save_definition(dbsession, admin, SAMPLE_ID)
    stage_metadataset(dbsession, admin, {"SampleId": "S1"})
    with pytest.raises(Conflict):
        delete_definition(dbsession, admin, str(definition.uuid))


def test_an_unused_definition_can_be_deleted(dbsession, admin):
    definition = save_definition(dbsession, admin, SAMPLE_ID)
    delete_definition(dbsession, admin, str(definition.uuid))
    assert list_definitions(dbsession) == []


# Every request needs the definitions; a process keeps them until they change.


def names(dbsession) -> list[str]:
    return [definition.name for definition in definitions(dbsession).all]


def test_definitions_are_loaded_once_per_version_then_only_the_version_is_read(dbsession, admin):
    save_definition(dbsession, admin, SAMPLE_ID)
    with recorded_statements(dbsession.get_bind()) as first:
        assert names(dbsession) == ["SampleId"]
    forget_definitions(dbsession)  # as a new transaction does
    with recorded_statements(dbsession.get_bind()) as again:
        assert names(dbsession) == ["SampleId"]
    assert len(first) == 2
    assert len(again) == 1
    assert "metadata_version" in again[0]


def test_within_a_transaction_they_are_read_once(dbsession, admin):
    save_definition(dbsession, admin, SAMPLE_ID)
    definitions(dbsession)
    with recorded_statements(dbsession.get_bind()) as statements:
        definitions(dbsession)
        definitions(dbsession)
    assert statements == []


def test_a_change_in_the_same_transaction_is_seen_at_once(dbsession, admin):
    first = save_definition(dbsession, admin, SAMPLE_ID)
    assert names(dbsession) == ["SampleId"]
    save_definition(dbsession, admin, replace(SAMPLE_ID, name="Second", order=20))
    assert names(dbsession) == ["SampleId", "Second"]
    delete_definition(dbsession, admin, str(first.uuid))
    dbsession.flush()
    assert names(dbsession) == ["Second"]


def test_a_change_by_plain_sql_is_seen_by_the_next_transaction(dbsession, admin):
    save_definition(dbsession, admin, SAMPLE_ID)
    assert names(dbsession) == ["SampleId"]
    dbsession.execute(text("UPDATE metadata SET name = 'Renamed'"))
    forget_definitions(dbsession)
    assert names(dbsession) == ["Renamed"]


def test_a_change_rolled_back_is_never_taken_for_a_later_one(dbsession, admin):
    # The version comes from a sequence: a rolled-back change's number is never reused.
    savepoint = dbsession.begin_nested()
    save_definition(dbsession, admin, replace(SAMPLE_ID, name="Discarded"))
    assert names(dbsession) == ["Discarded"]
    savepoint.rollback()
    save_definition(dbsession, admin, replace(SAMPLE_ID, name="Kept"))
    assert names(dbsession) == ["Kept"]
