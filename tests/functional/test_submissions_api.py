"""/presubvalidation and /submissions: all or nothing, every problem named, races decided once."""

import itertools
import threading
import time

import pytest
import webtest
from sqlalchemy import delete, select, text

from datameta.logic.metadatasets import stage_records
from datameta.logic.services import execute_service
from datameta.logic.submissions import create_submission
from datameta.models import MetaDataSet, ServiceExecution
from tests.factories import (
    define_sample_sheet,
    define_service_column,
    make_api_key,
    make_user,
    stage,
    upload_file,
)
from tests.helpers import api_headers, assert_api_error, committing_client


@pytest.fixture
def submitter(dbsession, testapp):
    define_sample_sheet(testapp, make_api_key(dbsession, make_user(dbsession, site_admin=True)))
    user = make_user(dbsession)
    return user, make_api_key(dbsession, user)


def staged_pair(testapp, key, sample="S1"):
    mset = stage(testapp, key, {"SampleId": sample, "Reads": f"{sample}.fq"}).json
    file = upload_file(testapp, key, f"{sample}.fq", sample.encode() * 100)
    return mset, file


def body(msets, files, label=None):
    return {
        "metadatasetIds": [m["id"]["site"] for m in msets],
        "fileIds": [f["id"]["uuid"] for f in files],
        "label": label,
    }


def test_prevalidation_then_submission(testapp, submitter):
    user, key = submitter
    mset, file = staged_pair(testapp, key)
    testapp.post_json(
        "/api/v1/presubvalidation", body([mset], [file]), headers=api_headers(key), status=204
    )
    submission = testapp.post_json(
        "/api/v1/submissions", body([mset], [file], "first run"), headers=api_headers(key)
    ).json
    assert set(submission) == {"id", "label", "metadatasetIds", "fileIds"}
    assert submission["label"] == "first run"
    assert submission["metadatasetIds"] == [mset["id"]]
    assert submission["fileIds"] == [file["id"]]
    submitted = testapp.get(
        f"/api/v1/metadatasets/{mset['id']['uuid']}", headers=api_headers(key)
    ).json
    assert submitted["submissionId"] == submission["id"]
    assert submitted["fileIds"] == {"Reads": file["id"]}
    listed = testapp.get("/api/v1/metadatasets", headers=api_headers(key))
    assert [m["id"] for m in listed.json] == [mset["id"]]
    group = testapp.get(
        f"/api/v1/groups/{user.group.uuid}/submissions", headers=api_headers(key)
    ).json
    assert group == [submission]
    detail = testapp.get(
        f"/api/v1/submissions/{submission['id']['site']}", headers=api_headers(key)
    )
    assert detail.json["groupId"]["site"] == user.group.site_id


def test_every_problem_is_reported_with_entity_and_field(testapp, submitter):
    _, key = submitter
    mset = stage(testapp, key, {"SampleId": "S1", "Reads": "S1.fq"}).json
    other = stage(testapp, key, {"SampleId": "S1", "Reads": "missing.fq"}).json
    response = testapp.post_json(
        "/api/v1/submissions", body([mset, other], []), headers=api_headers(key), status=400
    )
    items = assert_api_error(response, 400, "ValidationError")
    found = {(item["entity"]["site"], item["field"], item["message"]) for item in items}
    assert (mset["id"]["site"], "Reads", "Referenced file not provided") in found
    assert (
        other["id"]["site"],
        "SampleId",
        "Violation of intra-submission unique constraint",
    ) in found
    # Nothing was submitted.
    assert testapp.get("/api/v1/metadatasets", headers=api_headers(key)).json == []


def test_foreign_and_unknown_ids_are_reported_first(testapp, dbsession, submitter):
    user, key = submitter
    colleague_key = make_api_key(dbsession, make_user(dbsession, group=user.group))
    seen = stage(testapp, colleague_key, {"SampleId": "S6"}).json
    testapp.post_json("/api/v1/submissions", body([seen], []), headers=api_headers(colleague_key))
    stranger_key = make_api_key(dbsession, make_user(dbsession))
    hidden = stage(testapp, stranger_key, {"SampleId": "S7"}).json
    given = [seen["id"]["uuid"], hidden["id"]["uuid"], "nope"]
    response = testapp.post_json(
        "/api/v1/presubvalidation",
        {"metadatasetIds": given, "fileIds": [], "label": None},
        headers=api_headers(key),
        status=400,
    )
    items = assert_api_error(response, 400)
    # A colleague's submitted set is seen but not the caller's; a stranger's staged
    # one is not seen at all and reads exactly like an unknown id.
    assert [item["message"] for item in items] == ["Access denied", "Not found", "Not found"]
    assert [item["entity"] for item in items] == [{"uuid": i, "site": i} for i in given]


def test_foreign_file_ids_are_reported_like_foreign_sets(testapp, dbsession, submitter):
    user, key = submitter
    colleague_key = make_api_key(dbsession, make_user(dbsession, group=user.group))
    seen_set, seen_file = staged_pair(testapp, colleague_key, "S8")
    testapp.post_json(
        "/api/v1/submissions", body([seen_set], [seen_file]), headers=api_headers(colleague_key)
    )
    stranger_key = make_api_key(dbsession, make_user(dbsession))
    hidden = upload_file(testapp, stranger_key, "S9.fq", b"S9" * 100)
    given = [seen_file["id"]["uuid"], hidden["id"]["uuid"]]
    response = testapp.post_json(
        "/api/v1/presubvalidation",
        {"metadatasetIds": [], "fileIds": given, "label": None},
        headers=api_headers(key),
        status=400,
    )
    items = assert_api_error(response, 400)
    assert [item["message"] for item in items] == ["Access denied", "Not found"]
    assert [item["entity"] for item in items] == [{"uuid": i, "site": i} for i in given]


def test_an_empty_submission_is_refused(testapp, submitter):
    _, key = submitter
    response = testapp.post_json(
        "/api/v1/submissions", body([], []), headers=api_headers(key), status=400
    )
    assert_api_error(response, 400, message="Neither data nor metadata provided in submission.")


def test_submitting_twice_is_refused(testapp, submitter):
    _, key = submitter
    mset, file = staged_pair(testapp, key)
    testapp.post_json("/api/v1/submissions", body([mset], [file]), headers=api_headers(key))
    again = testapp.post_json(
        "/api/v1/submissions", body([mset], [file]), headers=api_headers(key), status=400
    )
    messages = {item["message"] for item in assert_api_error(again, 400)}
    assert "Already submitted" in messages


def test_other_groups_cannot_see_submitted_data(testapp, dbsession, submitter):
    _, key = submitter
    mset, file = staged_pair(testapp, key)
    testapp.post_json("/api/v1/submissions", body([mset], [file]), headers=api_headers(key))
    outsider = make_api_key(dbsession, make_user(dbsession))
    testapp.get(
        f"/api/v1/metadatasets/{mset['id']['site']}", headers=api_headers(outsider), status=404
    )
    testapp.get(f"/api/v1/files/{file['id']['site']}", headers=api_headers(outsider), status=404)
    assert testapp.get("/api/v1/metadatasets", headers=api_headers(outsider)).json == []
    reader = make_api_key(dbsession, make_user(dbsession, site_read=True))
    assert len(testapp.get("/api/v1/metadatasets", headers=api_headers(reader)).json) == 1


def racers_with_staged_sets(app, committed_db, sample_ids):
    """One committed user per sample id, each with a staged set of that id: (keys, sets)."""
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    keys = [make_api_key(committed_db, make_user(committed_db)) for _ in sample_ids]
    committed_db.commit()
    define_sample_sheet(committing_client(app), admin_key)
    staged = [
        stage(committing_client(app), key, {"SampleId": sample_id}).json
        for key, sample_id in zip(keys, sample_ids, strict=True)
    ]
    return keys, staged


def submit_at_once(app, keys, staged):
    """Each key submits its set in a thread of its own, all released at one moment."""
    barrier = threading.Barrier(len(keys))
    results: list = [None] * len(keys)

    def submit(index):
        racer_client = committing_client(app)
        barrier.wait()
        results[index] = racer_client.post_json(
            "/api/v1/submissions",
            body([staged[index]], []),
            headers=api_headers(keys[index]),
            expect_errors=True,
        )

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_submissions_of_different_sets_all_succeed(app, committed_db):
    """Submissions of unrelated sets at the same moment each get through, none answers 409."""
    keys, staged = racers_with_staged_sets(app, committed_db, [f"S{index}" for index in range(8)])
    results = submit_at_once(app, keys, staged)
    assert [response.status_int for response in results] == [200] * 8


def test_two_racing_submissions_of_one_site_unique_value_one_wins(app, committed_db):
    """Real transactions in two threads: exactly one submission of a site-unique value wins."""
    keys, staged = racers_with_staged_sets(app, committed_db, ["S42", "S42"])
    results = submit_at_once(app, keys, staged)
    statuses = sorted(response.status_int for response in results)
    assert statuses == [200, 400]
    loser = next(response for response in results if response.status_int == 400)
    assert_api_error(loser, 400, message="Violation of global unique constraint")


def staged_site_ids(committed_db, user, numbers):
    """Stage a set per number (SampleId S<number>) for ``user`` and commit: their site ids."""
    staged = stage_records(committed_db, user, [{"SampleId": f"S{n}"} for n in numbers])
    site_ids = [mset.site_id for mset in staged]
    committed_db.commit()
    return site_ids


def test_a_large_submission_succeeds_while_other_users_keep_staging(app, committed_db):
    """Stagings of other users, one after another while a submission of many sets runs,
    neither make it fail nor fail themselves."""
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    submitter = make_user(committed_db)
    submitter_key = make_api_key(committed_db, submitter)
    stagers = [make_api_key(committed_db, make_user(committed_db)) for _ in range(3)]
    committed_db.commit()
    define_sample_sheet(committing_client(app), admin_key)
    # Submitted sets before it: the site-unique check reads their values.
    earlier = staged_site_ids(committed_db, submitter, range(400))
    submitter_client = committing_client(app)
    submitter_client.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": earlier, "fileIds": []},
        headers=api_headers(submitter_key),
    )
    sets = staged_site_ids(committed_db, submitter, range(400, 800))

    stop = threading.Event()
    staged_statuses: list[int] = []

    def keep_staging(key, first):
        client = committing_client(app)
        for number in itertools.count(first):
            staged_statuses.append(
                stage(client, key, {"SampleId": f"S{number}"}, status="*").status_int
            )
            if stop.is_set():
                return

    threads = [
        threading.Thread(target=keep_staging, args=(key, 10_000 * (index + 1)))
        for index, key in enumerate(stagers)
    ]
    for thread in threads:
        thread.start()
    try:
        while len(staged_statuses) < 3:
            time.sleep(0.01)
        response = submitter_client.post_json(
            "/api/v1/submissions",
            {"metadatasetIds": sets, "fileIds": []},
            headers=api_headers(submitter_key),
            expect_errors=True,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert response.status_int == 200, response.text
    assert len(response.json["metadatasetIds"]) == 400
    assert set(staged_statuses) == {200}


def waiting_for_a_lock(committed_db) -> int:
    """How many other transactions wait for a lock, as PostgreSQL sees it now."""
    with committed_db.get_bind().connect() as connection:
        return connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        )


def test_a_set_deleted_while_its_submission_waits_is_reported_not_found(app, committed_db):
    """A deletion in progress is waited for: the submission then names the deleted set
    "Not found" and submits nothing, rather than submitting what is left."""
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    user = make_user(committed_db)
    key = make_api_key(committed_db, user)
    committed_db.commit()
    define_sample_sheet(committing_client(app), admin_key)
    kept, deleted = staged_site_ids(committed_db, user, [1, 2])
    committed_db.execute(delete(MetaDataSet).where(MetaDataSet.site_id == deleted))
    results: list = []
    submission = threading.Thread(
        target=lambda: results.append(
            committing_client(app).post_json(
                "/api/v1/submissions",
                {"metadatasetIds": [kept, deleted], "fileIds": []},
                headers=api_headers(key),
                expect_errors=True,
            )
        )
    )
    submission.start()
    deadline = time.monotonic() + 30
    while waiting_for_a_lock(committed_db) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    committed_db.commit()
    submission.join(timeout=60)
    items = assert_api_error(results[0], 400, message="Not found")
    assert [item["entity"] for item in items] == [{"site": deleted, "uuid": deleted}]
    still_staged = select(MetaDataSet.submission_id).where(MetaDataSet.site_id == kept)
    assert committed_db.scalar(still_staged) is None


def a_file_two_requests_link(app, committed_db):
    """A user who submits and runs a file-column service: a submitted set for the service,
    a staged set naming ``r.fq``, and the uploaded file ``r.fq``, all committed."""
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    user = make_user(committed_db)
    key = make_api_key(committed_db, user)
    committed_db.commit()
    client = committing_client(app)
    define_sample_sheet(client, admin_key)
    service = define_service_column(client, admin_key, isFile=True)
    client.put_json(
        f"/api/v1/services/{service['id']['site']}",
        {"userIds": [user.site_id]},
        headers=api_headers(admin_key),
    )
    reported = stage(client, key, {"SampleId": "S1"}).json["id"]["site"]
    client.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [reported], "fileIds": []},
        headers=api_headers(key),
    )
    staged = stage(client, key, {"SampleId": "S2", "Reads": "r.fq"}).json["id"]["site"]
    file = upload_file(client, key, "r.fq", b"ACGT")["id"]["site"]
    # A fresh snapshot: reading the user's site id above began one before the requests.
    committed_db.rollback()
    return {"user": user, "key": key, "service": service["id"]["site"]} | {
        "reported": reported,
        "staged": staged,
        "file": file,
    }


def answered_once_the_other_commits(committed_db, request) -> webtest.TestResponse:
    """``request`` runs in a thread while ``committed_db`` holds its uncommitted link of
    the same file; once the request waits for it, the link commits; the request's answer."""
    results: list = []
    racer = threading.Thread(target=lambda: results.append(request()))
    racer.start()
    deadline = time.monotonic() + 30
    while waiting_for_a_lock(committed_db) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    committed_db.commit()
    racer.join(timeout=60)
    return results[0]


def test_a_submission_racing_a_service_for_one_file_is_refused_not_crashed(app, committed_db):
    """Both check that the file is linked nowhere before either has committed its link:
    the one that links second is told (409) and changes nothing."""
    race = a_file_two_requests_link(app, committed_db)
    user = committed_db.merge(race["user"])
    execute_service(
        committed_db, user, race["service"], race["reported"], {"QC": "r.fq"}, [race["file"]]
    )
    response = answered_once_the_other_commits(
        committed_db,
        lambda: committing_client(app).post_json(
            "/api/v1/submissions",
            {"metadatasetIds": [race["staged"]], "fileIds": [race["file"]]},
            headers=api_headers(race["key"]),
            expect_errors=True,
        ),
    )
    items = assert_api_error(response, 409, exception="Conflict")
    assert [item["entity"]["site"] for item in items] == [race["file"]]
    still_staged = select(MetaDataSet.submission_id).where(MetaDataSet.site_id == race["staged"])
    assert committed_db.scalar(still_staged) is None


def test_a_service_racing_a_submission_for_one_file_is_refused_not_crashed(app, committed_db):
    """The same race the other way round: the service's report links second."""
    race = a_file_two_requests_link(app, committed_db)
    # As a submission runs (api.submissions): READ COMMITTED.
    committed_db.connection(execution_options={"isolation_level": "READ COMMITTED"})
    user = committed_db.merge(race["user"])
    create_submission(committed_db, user, [race["staged"]], [race["file"]], None)
    response = answered_once_the_other_commits(
        committed_db,
        lambda: committing_client(app).post_json(
            f"/api/v1/service-execution/{race['service']}/{race['reported']}",
            {"record": {"QC": "r.fq"}, "fileIds": [race["file"]]},
            headers=api_headers(race["key"]),
            expect_errors=True,
        ),
    )
    items = assert_api_error(response, 409, exception="Conflict")
    assert [item["entity"]["site"] for item in items] == [race["file"]]
    executions = select(ServiceExecution.id).where(ServiceExecution.user_id == user.id)
    assert committed_db.scalars(executions).all() == []
