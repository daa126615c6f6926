"""Staging records: checked by the shared value rules, inserted set-wise."""

from dataclasses import replace

import pytest
import sqlalchemy as sa

from datameta.errors import NotFound, NotModifiable, ValidationFailed
from datameta.logic.metadata import save_definition
from datameta.logic.metadatasets import (
    delete_metadatasets,
    get_metadataset,
    load_views,
    stage_metadataset,
    stage_records,
)
from datameta.models import MetaDatumRecord, Submission
from tests.factories import SAMPLE_ID, make_user


@pytest.fixture
def columns(dbsession):
    admin = make_user(dbsession, site_admin=True)
    sample = save_definition(dbsession, admin, SAMPLE_ID)
    date = save_definition(
        dbsession,
        admin,
        replace(SAMPLE_ID, name="Date", regexp="", datetime_format="%Y-%m-%d", mandatory=False),
    )
    return sample, date


@pytest.fixture
def submitter(dbsession):
    return make_user(dbsession)


def test_a_staged_set_belongs_to_its_owner_and_group(dbsession, columns, submitter):
    mset = stage_metadataset(dbsession, submitter, {"SampleId": "S1", "Date": "2021-03-04"})
    assert (mset.user_id, mset.group_id, mset.submission_id) == (
        submitter.id,
        submitter.group_id,
        None,
    )
    [view] = load_views(dbsession, [mset])
    sample, date = columns
    assert view.values == {sample.id: "S1", date.id: "2021-03-04T00:00:00"}


def test_an_invalid_record_stages_nothing(dbsession, columns, submitter):
    with pytest.raises(ValidationFailed) as raised:
        stage_metadataset(dbsession, submitter, {"SampleId": "X", "Date": "never"})
    assert {item.field for item in raised.value.items} == {"SampleId", "Date"}
    assert dbsession.scalar(sa.select(sa.func.count()).select_from(MetaDatumRecord)) == 0


def test_many_records_are_staged_in_one_go_and_errors_name_their_row(dbsession, columns, submitter):
    staged = stage_records(dbsession, submitter, [{"SampleId": f"S{i}"} for i in range(50)])
    assert len({mset.site_id for mset in staged}) == 50
    with pytest.raises(ValidationFailed) as raised:
        stage_records(dbsession, submitter, [{"SampleId": "S1"}, {"SampleId": "bad"}])
    assert [item.field for item in raised.value.items] == ["1.SampleId"]


def test_staged_sets_are_invisible_to_everyone_but_their_owner(dbsession, columns, submitter):
    mset = stage_metadataset(dbsession, submitter, {"SampleId": "S1"})
    colleague = make_user(dbsession, group=submitter.group, site_read=True, site_admin=True)
    with pytest.raises(NotFound):
        get_metadataset(dbsession, colleague, mset.site_id)
    assert get_metadataset(dbsession, submitter, str(mset.uuid)) is mset


def test_deleting_is_all_or_nothing(dbsession, columns, submitter):
    first = stage_metadataset(dbsession, submitter, {"SampleId": "S1"})
    with pytest.raises(NotFound):
        delete_metadatasets(dbsession, submitter, [first.site_id, "DMR-99999999"])
    assert get_metadataset(dbsession, submitter, first.site_id) is first


def test_submitted_sets_cannot_be_deleted(dbsession, columns, submitter):
    mset = stage_metadataset(dbsession, submitter, {"SampleId": "S1"})
    submission = Submission(group_id=submitter.group_id)
    dbsession.add(submission)
    dbsession.flush()
    mset.submission_id = submission.id
    dbsession.flush()
    with pytest.raises(NotModifiable) as raised:
        delete_metadatasets(dbsession, submitter, [mset.site_id])
    [item] = raised.value.items
    assert item.exception == "ResourceNotModifiableError"
    assert item.entity == {"uuid": str(mset.uuid), "site": mset.site_id}
