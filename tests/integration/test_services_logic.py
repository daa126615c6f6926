"""Services fill their own columns of submitted metadatasets, once each."""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from datameta.errors import Forbidden, ValidationFailed
from datameta.logic.metadata import save_definition
from datameta.logic.metadatasets import load_views, stage_records
from datameta.logic.services import (
    create_service,
    execute_service,
    list_services,
    update_service,
)
from datameta.logic.submissions import create_submission
from tests.factories import SAMPLE_ID, make_user


@pytest.fixture
def setting(dbsession):
    admin = make_user(dbsession, site_admin=True)
    # Pipelines read every group's submitted data.
    runner = make_user(dbsession, site_read=True)
    service = create_service(dbsession, admin, "Quality control")
    update_service(dbsession, admin, service.site_id, user_ids=[runner.site_id])
    save_definition(dbsession, admin, SAMPLE_ID)
    qc = save_definition(
        dbsession,
        admin,
        replace(
            SAMPLE_ID,
            name="QC",
            regexp="pass|fail",
            mandatory=True,
            service_id=service.site_id,
        ),
    )
    submitter = make_user(dbsession)
    [mset] = stage_records(dbsession, submitter, [{"SampleId": "S1"}])
    create_submission(dbsession, submitter, [mset.site_id], [], None)
    return SimpleNamespace(admin=admin, runner=runner, service=service, qc=qc, mset=mset)


def run(dbsession, setting, actor, record: dict):
    """``actor`` runs the service on the submitted metadataset, reporting ``record``."""
    return execute_service(
        dbsession, actor, setting.service.site_id, setting.mset.site_id, record, []
    )


def test_service_users_see_their_services(dbsession, setting):
    assert list_services(dbsession, setting.runner) == [setting.service]
    assert list_services(dbsession, make_user(dbsession)) == []


def test_service_names_are_unique(dbsession, setting):
    with pytest.raises(ValidationFailed, match="already exists"):
        create_service(dbsession, setting.admin, "quality CONTROL")


def test_an_assigned_user_reports_values_once(dbsession, setting):
    run(dbsession, setting, setting.runner, {"QC": "pass"})
    [view] = load_views(dbsession, [setting.mset])
    assert view.values[setting.qc.id] == "pass"
    assert setting.service.id in view.executions
    with pytest.raises(Forbidden, match="already"):
        run(dbsession, setting, setting.runner, {"QC": "fail"})


def test_only_assigned_users_may_report(dbsession, setting):
    with pytest.raises(Forbidden):
        run(dbsession, setting, setting.admin, {"QC": "pass"})


def test_values_are_checked_and_only_the_services_columns_accepted(dbsession, setting):
    with pytest.raises(ValidationFailed) as raised:
        run(dbsession, setting, setting.runner, {"QC": "maybe", "SampleId": "S2"})
    assert {item.field for item in raised.value.items} == {"SampleId"}
    with pytest.raises(ValidationFailed) as raised:
        run(dbsession, setting, setting.runner, {"QC": "maybe"})
    assert {item.field for item in raised.value.items} == {"QC"}
