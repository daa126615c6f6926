"""Structural rules live in the database, whatever code writes to it."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from datameta.models import (
    AppSetting,
    File,
    Group,
    MetaDataSet,
    MetaDatum,
    MetaDatumRecord,
    RegistrationRequest,
    SettingType,
    User,
)


@pytest.fixture
def group(dbsession):
    group = Group(name="Constraint lab")
    dbsession.add(group)
    dbsession.flush()
    return group


def refused(dbsession, *objects):
    """True when the database refuses to store ``objects`` (and nothing else is lost)."""
    savepoint = dbsession.begin_nested()
    dbsession.add_all(objects)
    try:
        dbsession.flush()
    except IntegrityError:
        savepoint.rollback()
        return True
    savepoint.rollback()
    return False


def test_email_addresses_are_unique_regardless_of_case(dbsession, group):
    dbsession.add(User(email="ada@example.org", fullname="Ada", group=group))
    dbsession.flush()
    assert refused(dbsession, User(email="ADA@Example.org", fullname="Ada 2", group_id=group.id))


def test_group_names_are_unique_and_not_blank(dbsession, group):
    assert refused(dbsession, Group(name="Constraint lab"))
    assert refused(dbsession, Group(name="   "))


def test_metadatum_names_are_unique(dbsession):
    dbsession.add(MetaDatum(name="SampleId"))
    dbsession.flush()
    assert refused(dbsession, MetaDatum(name="SampleId"))


def test_a_metadataset_has_one_record_per_metadatum(dbsession, group):
    user = User(email="rec@example.org", fullname="Rec", group=group)
    datum = MetaDatum(name="Tissue")
    mset = MetaDataSet(user=user, group_id=group.id)
    dbsession.add_all([user, datum, mset])
    dbsession.flush()
    dbsession.add(MetaDatumRecord(metadataset=mset, metadatum=datum, value="liver"))
    dbsession.flush()
    assert refused(
        dbsession, MetaDatumRecord(metadataset_id=mset.id, metadatum_id=datum.id, value="lung")
    )


def test_files_need_an_md5_checksum_and_a_size_once_uploaded(dbsession, group):
    user = User(email="files@example.org", fullname="Files", group=group)
    dbsession.add(user)
    dbsession.flush()

    def file(**overrides):
        values = dict(
            name="a.fastq.gz",
            storage_key=f"k-{len(overrides)}-{sorted(overrides)}",
            checksum="0" * 32,
            user_id=user.id,
            group_id=group.id,
            upload_expires=sa.func.now(),
        )
        values.update(overrides)
        return File(**values)

    assert not refused(dbsession, file())
    assert refused(dbsession, file(checksum="not-an-md5"))
    assert refused(dbsession, file(content_uploaded=True, filesize=None))
    assert refused(dbsession, file(name=""))


def test_an_app_setting_holds_exactly_the_value_of_its_type(dbsession):
    assert not refused(dbsession, AppSetting(key="n", value_type=SettingType.INT, int_value=3))
    assert refused(dbsession, AppSetting(key="m", value_type=SettingType.INT, str_value="3"))


def test_a_registration_names_an_existing_or_a_new_group_not_both(dbsession, group):
    assert refused(
        dbsession,
        RegistrationRequest(
            fullname="Reg", email="r@example.org", group_id=group.id, new_group_name="New"
        ),
    )
    assert not refused(
        dbsession, RegistrationRequest(fullname="Reg", email="r@example.org", group_id=group.id)
    )
