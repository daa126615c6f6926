"""Submitting: all or nothing, every problem at once, and a fixed number of statements."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from datameta.db import recorded_statements
from datameta.errors import ValidationFailed
from datameta.logic.metadata import save_definition
from datameta.logic.metadatasets import load_views, stage_records
from datameta.logic.submissions import create_submission, validate_submission
from datameta.models import File
from tests.factories import SAMPLE_ID, make_user


@pytest.fixture
def columns(dbsession):
    admin = make_user(dbsession, site_admin=True)
    sample = save_definition(dbsession, admin, replace(SAMPLE_ID, site_unique=True))
    reads = save_definition(
        dbsession,
        admin,
        replace(
            SAMPLE_ID,
            name="Reads",
            regexp="",
            is_file=True,
            mandatory=False,
            submission_unique=False,
        ),
    )
    return sample, reads


@pytest.fixture
def submitter(dbsession):
    return make_user(dbsession)


def make_files(dbsession, owner, names, uploaded=True):
    files = [
        File(
            name=name,
            storage_key=f"test/{owner.id}/{name}",
            checksum="0" * 32,
            filesize=1 if uploaded else None,
            content_uploaded=uploaded,
            user_id=owner.id,
            group_id=owner.group_id,
            upload_expires=datetime.now(UTC) + timedelta(days=1),
        )
        for name in names
    ]
    dbsession.add_all(files)
    dbsession.flush()
    return files


def stage(dbsession, owner, count, prefix="S"):
    """``count`` staged sets with sample ids prefix0, prefix1, ... naming files prefixN.fq."""
    records = [{"SampleId": f"{prefix}{i}", "Reads": f"{prefix}{i}.fq"} for i in range(count)]
    return stage_records(dbsession, owner, records)


def messages(raised):
    return {(item.field, item.message) for item in raised.value.items}


def test_a_valid_submission_links_files_to_their_records(dbsession, columns, submitter):
    sets = stage(dbsession, submitter, 3)
    files = make_files(dbsession, submitter, [f"S{i}.fq" for i in range(3)])
    submission = create_submission(
        dbsession, submitter, [m.site_id for m in sets], [str(f.uuid) for f in files], " run 1 "
    ).submission
    assert submission.label == "run 1"
    assert submission.group_id == submitter.group_id
    views = load_views(dbsession, sets)
    _, reads = columns
    assert [view.files[reads.id].name for view in views] == ["S0.fq", "S1.fq", "S2.fq"]
    assert all(view.metadataset.submission_id == submission.id for view in views)


def test_nothing_to_submit_is_refused(dbsession, columns, submitter):
    with pytest.raises(ValidationFailed) as raised:
        validate_submission(dbsession, submitter, [], [], None)
    assert messages(raised) == {(None, "Neither data nor metadata provided in submission.")}


def test_unknown_and_foreign_ids_are_reported_before_anything_else(dbsession, columns, submitter):
    # Another user's staged set is not visible to the submitter: it reads like an unknown id.
    foreign = stage(dbsession, make_user(dbsession), 1, prefix="S9")[0]
    with pytest.raises(ValidationFailed) as raised:
        validate_submission(dbsession, submitter, ["DMR-99999999", foreign.site_id], [], None)
    items = raised.value.items
    assert [item.message for item in items] == ["Not found", "Not found"]
    assert items[0].entity == {"site": "DMR-99999999", "uuid": "DMR-99999999"}
    assert items[1].entity == {"site": foreign.site_id, "uuid": foreign.site_id}


def test_all_problems_are_reported_together_and_nothing_changes(dbsession, columns, submitter):
    sets = stage(dbsession, submitter, 2)
    make_files(dbsession, submitter, ["S0.fq"], uploaded=False)
    file = dbsession.scalar(sa.select(File).where(File.name == "S0.fq"))
    with pytest.raises(ValidationFailed) as raised:
        create_submission(dbsession, submitter, [m.site_id for m in sets], [file.site_id], None)
    assert messages(raised) == {
        (None, "No data uploaded"),
        ("Reads", "Referenced file not provided"),
    }
    assert all(mset.submission_id is None for mset in sets)


def test_site_unique_values_cannot_be_submitted_twice(dbsession, columns, submitter):
    first = stage(dbsession, submitter, 1)
    create_submission(
        dbsession,
        submitter,
        [first[0].site_id],
        [make_files(dbsession, submitter, ["S0.fq"])[0].site_id],
        None,
    )
    again = stage_records(dbsession, submitter, [{"SampleId": "S0", "Reads": None}])
    with pytest.raises(ValidationFailed) as raised:
        validate_submission(dbsession, submitter, [again[0].site_id], [], None)
    assert messages(raised) == {("SampleId", "Violation of global unique constraint")}


def test_a_long_label_is_refused(dbsession, columns, submitter):
    sets = stage_records(dbsession, submitter, [{"SampleId": "S1"}])
    with pytest.raises(ValidationFailed) as raised:
        validate_submission(dbsession, submitter, [sets[0].site_id], [], "x" * 201)
    assert {item.field for item in raised.value.items} == {"label"}


def statements_to_submit(dbsession, submitter, size: int) -> int:
    sets = stage(dbsession, submitter, size, prefix=f"S{size}0")
    files = make_files(dbsession, submitter, [f"S{size}0{i}.fq" for i in range(size)])
    set_ids, file_ids = [m.site_id for m in sets], [f.site_id for f in files]
    dbsession.expire_all()
    with recorded_statements(dbsession.get_bind()) as statements:
        create_submission(dbsession, submitter, set_ids, file_ids, None)
    return len(statements)


def test_the_statement_count_does_not_grow_with_the_submission(dbsession, columns, submitter):
    assert statements_to_submit(dbsession, submitter, 2) == statements_to_submit(
        dbsession, submitter, 40
    )


def test_ten_thousand_site_unique_values_are_checked_in_one_go(dbsession, columns, submitter):
    def statements_to_check(count: int, start: int) -> int:
        records = [{"SampleId": f"S{start + i}"} for i in range(count)]
        ids = [m.site_id for m in stage_records(dbsession, submitter, records)]
        dbsession.expire_all()
        with recorded_statements(dbsession.get_bind()) as statements:
            validate_submission(dbsession, submitter, ids, [], None)
        return len(statements)

    assert statements_to_check(10_000, 0) == statements_to_check(2, 20_000)
