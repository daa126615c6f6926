"""/services and /service-execution: pipelines report their columns for submitted sets."""

import pytest
from sqlalchemy import select

from datameta.models import User
from tests.factories import (
    define,
    define_sample_sheet,
    define_service_column,
    make_api_key,
    make_user,
    stage,
    upload_file,
)
from tests.helpers import api_headers, assert_api_error


@pytest.fixture
def site(dbsession, testapp):
    admin = make_user(dbsession, site_admin=True, site_read=True)
    admin_key = make_api_key(dbsession, admin)
    runner = make_user(dbsession, site_read=True)
    runner_key = make_api_key(dbsession, runner)
    define_sample_sheet(testapp, admin_key)
    service = define_service_column(
        testapp, admin_key, regExp="pass|fail", regexDescription="pass or fail", isMandatory=True
    )
    testapp.put_json(
        f"/api/v1/services/{service['id']['site']}",
        {"userIds": [runner.site_id]},
        headers=api_headers(admin_key),
    )
    submitter = make_user(dbsession)
    submitter_key = make_api_key(dbsession, submitter)
    mset = stage(testapp, submitter_key, {"SampleId": "S1"}).json
    testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [mset["id"]["site"]], "fileIds": [], "label": None},
        headers=api_headers(submitter_key),
    )
    return {
        "admin_key": admin_key,
        "runner": runner,
        "runner_key": runner_key,
        "service": service,
        "mset": mset,
        "submitter_key": submitter_key,
    }


def execute(testapp, site, record, key=None, status=200):
    return testapp.post_json(
        f"/api/v1/service-execution/{site['service']['id']['site']}/{site['mset']['id']['site']}",
        {"record": record, "fileIds": []},
        headers=api_headers(key or site["runner_key"]),
        status=status,
    )


def test_a_service_answers_its_users(testapp, site):
    listed = testapp.get("/api/v1/services", headers=api_headers(site["admin_key"])).json
    assert listed == [
        {
            "id": site["service"]["id"],
            "name": "QC",
            "userIds": [{"uuid": str(site["runner"].uuid), "site": site["runner"].site_id}],
        }
    ]


def test_service_users_list_their_own_services(testapp, site):
    assert len(testapp.get("/api/v1/services", headers=api_headers(site["runner_key"])).json) == 1
    assert testapp.get("/api/v1/services", headers=api_headers(site["submitter_key"])).json == []


def test_a_duplicate_name_is_refused(testapp, site):
    response = testapp.post_json(
        "/api/v1/services", {"name": "qc"}, headers=api_headers(site["admin_key"]), status=400
    )
    assert_api_error(response, 400, field="name")


def test_the_runner_reports_once_and_readers_see_the_execution(testapp, site):
    result = execute(testapp, site, {"QC": "pass"}).json
    assert result["record"]["QC"] == "pass"
    assert result["serviceExecutions"]["QC"]["serviceId"] == site["service"]["id"]
    assert_api_error(execute(testapp, site, {"QC": "fail"}, status=403), 403)


def test_awaiting_service_lists_sets_not_yet_reported(testapp, site):
    service_id = site["service"]["id"]["uuid"]
    query = f"/api/v1/metadatasets?awaitingService={service_id}"
    assert len(testapp.get(query, headers=api_headers(site["runner_key"])).json) == 1
    execute(testapp, site, {"QC": "pass"})
    assert testapp.get(query, headers=api_headers(site["runner_key"])).json == []


def test_submitters_do_not_see_service_values(testapp, site):
    execute(testapp, site, {"QC": "pass"})
    shown = testapp.get(
        f"/api/v1/metadatasets/{site['mset']['id']['site']}",
        headers=api_headers(site["submitter_key"]),
    ).json
    assert "QC" not in shown["record"]
    assert shown["serviceExecutions"] is None


def test_bad_values_and_foreign_columns_are_refused(testapp, site):
    items = assert_api_error(execute(testapp, site, {"QC": "maybe"}, status=400), 400)
    assert items[0]["field"] == "QC"
    items = assert_api_error(execute(testapp, site, {"SampleId": "S2"}, status=400), 400)
    assert items[0]["message"] == "Metadatum unknown or not associated with the specified service."


def test_users_not_assigned_cannot_report(testapp, site):
    assert_api_error(execute(testapp, site, {"QC": "pass"}, key=site["admin_key"], status=403), 403)


def test_a_service_user_who_reads_no_service_values_still_asks_what_awaits_them(
    testapp, site, dbsession
):
    # A member of the submitter's group who runs the service but is no site reader.
    group = (
        dbsession.scalars(select(User).where(User.uuid == site["mset"]["userId"]["uuid"]))
        .one()
        .group
    )
    runner = make_user(dbsession, group=group)
    runner_key = make_api_key(dbsession, runner)
    testapp.put_json(
        f"/api/v1/services/{site['service']['id']['site']}",
        {"userIds": [site["runner"].site_id, runner.site_id]},
        headers=api_headers(site["admin_key"]),
    )
    query = f"/api/v1/metadatasets?awaitingService={site['service']['id']['site']}"
    waiting = testapp.get(query, headers=api_headers(runner_key)).json
    assert [mset["id"] for mset in waiting] == [site["mset"]["id"]]
    execute(testapp, site, {"QC": "pass"}, key=runner_key)
    assert testapp.get(query, headers=api_headers(runner_key)).json == []


def test_who_neither_runs_a_service_nor_reads_its_values_may_not_ask_what_awaits_it(testapp, site):
    query = f"/api/v1/metadatasets?awaitingService={site['service']['id']['site']}"
    response = testapp.get(query, headers=api_headers(site["submitter_key"]), status=400)
    assert_api_error(response, 400, "ValidationError", field="awaitingService")


@pytest.mark.parametrize("reader", ["admin_key", "submitter_key"])
@pytest.mark.parametrize("iso_dates", ["", "&isoDates=true"])
def test_the_whole_listing_shows_each_set_as_a_page_does(testapp, site, reader, iso_dates):
    # The whole listing is built from plain rows, a page from entities: the same JSON.
    execute(testapp, site, {"QC": "pass"})
    free = {"regExp": "", "isMandatory": False, "isSubmissionUnique": False, "isSiteUnique": False}
    define(testapp, site["admin_key"], name="Collected", dateTimeFmt="%d.%m.%Y", order=25, **free)
    key = site["submitter_key"]
    reads = upload_file(testapp, key, "s2.fastq", b"ACGT")
    staged = stage(testapp, key, {"SampleId": "S2", "Collected": "31.01.2024", "Reads": "s2.fastq"})
    testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [staged.json["id"]["site"]], "fileIds": [reads["id"]["site"]]},
        headers=api_headers(key),
    )
    headers = api_headers(site[reader])
    whole = testapp.get(f"/api/v1/metadatasets?{iso_dates}", headers=headers).json
    page = testapp.get(f"/api/v1/metadatasets?limit=100{iso_dates}", headers=headers).json
    assert whole == page
    assert [mset["record"]["SampleId"] for mset in whole] == ["S1", "S2"]
    assert whole[1]["fileIds"]["Reads"] == reads["id"]
    assert whole[1]["record"]["Collected"] == ("2024-01-31T00:00:00" if iso_dates else "31.01.2024")
    executions = whole[0]["serviceExecutions"]
    assert (executions is not None) == (reader == "admin_key")
