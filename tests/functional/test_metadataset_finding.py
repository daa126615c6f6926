"""Finding, sorting and exporting submitted metadatasets: GET /metadatasets's new parameters.

Two labs submit; a site reader sees both; a service reports on one set, and its
value stays hidden from everyone who may not read service values.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import openpyxl
import pytest
import requests
from sqlalchemy import delete, select, text, update

import datameta.logic.listing
import datameta.logic.metadatasets
from datameta import jobs, make_app
from datameta.db import recorded_statements
from datameta.logic import search_texts
from datameta.models import MetaDataSet, MetaDatum, MetaDatumRecord, Service, Submission
from tests.conftest import TEST_INI
from tests.factories import (
    committed_submitter,
    define,
    define_sample_sheet,
    define_service_column,
    make_api_key,
    make_group,
    make_user,
    stage,
    upload_file,
)
from tests.helpers import (
    api_headers,
    assert_api_error,
    assert_matches_spec,
    client_in_transaction,
)

FREE = {
    "regExp": "",
    "regexDescription": "",
    "isMandatory": False,
    "isSubmissionUnique": False,
    "isSiteUnique": False,
}
READS = b"ACGT" * 10
RESPONSE_KEYS = {"id", "record", "fileIds", "userId", "submissionId", "serviceExecutions"}


@dataclass
class Site:
    alpha_key: str  # Alice, of Alpha Lab
    beta_key: str  # Bob, of Beta Lab
    reader_key: str  # a site reader of a third group
    alice: Any
    bob: Any
    alpha: Any
    beta: Any
    alpha_submission: dict
    beta_submission: dict
    file: dict


def submit(testapp, key, records, label, files=()):
    ids = [stage(testapp, key, record).json["id"]["site"] for record in records]
    return testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": ids, "fileIds": [f["id"]["site"] for f in files], "label": label},
        headers=api_headers(key),
    ).json


@pytest.fixture
def site(request, testapp, dbsession) -> Site:
    """Both labs' submissions, their search texts written by the worker (as they are a
    moment after a submission) unless a test asks for ``site`` with the param False."""
    admin = make_user(dbsession, site_admin=True)
    admin_key = make_api_key(dbsession, admin)
    define_sample_sheet(testapp, admin_key)
    define(testapp, admin_key, name="Note", order=25, **FREE)
    service = define_service_column(testapp, admin_key)
    alpha, beta = make_group(dbsession, "Alpha Lab"), make_group(dbsession, "Beta Lab")
    alice = make_user(dbsession, group=alpha, fullname="Alice Anders")
    bob = make_user(dbsession, group=beta, fullname="Bob Berg")
    runner = make_user(dbsession, group=alpha, fullname="Rita Runner")
    testapp.put_json(
        f"/api/v1/services/{service['id']['site']}",
        {"userIds": [runner.site_id]},
        headers=api_headers(admin_key),
    )
    alpha_key = make_api_key(dbsession, alice)
    file = upload_file(testapp, alpha_key, "a_100.fq", READS)
    alpha_submission = submit(
        testapp,
        alpha_key,
        [
            {"SampleId": "S100", "Date": "2021-03-04", "Reads": "a_100.fq", "Note": "0012"},
            {"SampleId": "S101", "Date": "2022-01-01", "Note": "100% done"},
            {"SampleId": "S102"},
        ],
        "first run",
        files=[file],
    )
    beta_key = make_api_key(dbsession, bob)
    beta_submission = submit(
        testapp, beta_key, [{"SampleId": "S200", "Date": "2021-06-01"}], "beta batch"
    )
    first = alpha_submission["metadatasetIds"][0]["site"]
    testapp.post_json(
        f"/api/v1/service-execution/{service['id']['site']}/{first}",
        {"record": {"QC": "pass"}, "fileIds": []},
        headers=api_headers(make_api_key(dbsession, runner)),
    )
    reader = make_user(dbsession, site_read=True)
    if getattr(request, "param", True):
        search_texts.write_batch(dbsession)
    return Site(
        alpha_key=alpha_key,
        beta_key=beta_key,
        reader_key=make_api_key(dbsession, reader),
        alice=alice,
        bob=bob,
        alpha=alpha,
        beta=beta,
        alpha_submission=alpha_submission,
        beta_submission=beta_submission,
        file=file,
    )


# Search words find sets whether or not the worker has written their texts yet.
BEFORE_AND_AFTER_THE_WORKER = pytest.mark.parametrize(
    "site", [True, False], ids=["texts written", "texts not yet written"], indirect=True
)


def listed(testapp, key, status=200, **params):
    return testapp.get("/api/v1/metadatasets", params, headers=api_headers(key), status=status)


def samples(testapp, key, **params) -> list[str]:
    return [mset["record"]["SampleId"] for mset in listed(testapp, key, **params).json]


# Without the new parameters: DataMeta 1.x's answer


@BEFORE_AND_AFTER_THE_WORKER
def test_the_new_parameters_keep_datameta_1_answer_shape(testapp, site):
    plain = listed(testapp, site.alpha_key).json
    searched = listed(testapp, site.alpha_key, q="S1").json
    assert searched == plain
    assert [m["record"]["SampleId"] for m in plain] == ["S100", "S101", "S102"]
    assert set(plain[0]) == RESPONSE_KEYS


# Search words


@BEFORE_AND_AFTER_THE_WORKER
def test_a_word_matches_any_value_case_insensitively_as_a_substring(testapp, site):
    assert samples(testapp, site.alpha_key, q="s10") == ["S100", "S101", "S102"]
    assert samples(testapp, site.alpha_key, q="2022-01") == ["S101"]
    assert samples(testapp, site.alpha_key, q="A_100") == ["S100"]


@BEFORE_AND_AFTER_THE_WORKER
def test_every_word_must_match(testapp, site):
    assert samples(testapp, site.reader_key, q="2021 s1") == ["S100"]
    assert samples(testapp, site.reader_key, q="2021") == ["S100", "S200"]
    assert samples(testapp, site.reader_key, q="2021 nothing-like-this") == []


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("alice", ["S100", "S101", "S102"]),  # the user's name
        ("BETA LAB", ["S200"]),  # both words: "beta" only in Beta Lab
        ("beta", ["S200"]),  # the group's name, the submission's label
        ("first", ["S100", "S101", "S102"]),  # the submission's label
    ],
)
@BEFORE_AND_AFTER_THE_WORKER
def test_words_match_names_and_labels(testapp, site, word, expected):
    assert samples(testapp, site.reader_key, q=word) == expected


@BEFORE_AND_AFTER_THE_WORKER
def test_words_match_site_ids_of_sets_submissions_users_groups_and_files(testapp, site):
    first = site.alpha_submission["metadatasetIds"][0]["site"]
    assert samples(testapp, site.reader_key, q=first) == ["S100"]
    assert samples(testapp, site.reader_key, q=site.beta_submission["id"]["site"]) == ["S200"]
    assert samples(testapp, site.reader_key, q=site.bob.site_id) == ["S200"]
    assert samples(testapp, site.reader_key, q=site.beta.site_id) == ["S200"]
    assert samples(testapp, site.reader_key, q=site.file["id"]["site"]) == ["S100"]


@BEFORE_AND_AFTER_THE_WORKER
def test_wildcards_in_words_are_taken_literally(testapp, site):
    assert samples(testapp, site.alpha_key, q="100%") == ["S101"]
    assert samples(testapp, site.alpha_key, q="_") == ["S100"]  # only a_100.fq has one


@BEFORE_AND_AFTER_THE_WORKER
def test_a_service_value_is_found_only_by_those_who_may_read_it(testapp, site):
    assert samples(testapp, site.alpha_key, q="pass") == []
    assert samples(testapp, site.reader_key, q="pass") == ["S100"]


@BEFORE_AND_AFTER_THE_WORKER
def test_a_group_member_finds_only_their_groups_sets(testapp, site):
    assert samples(testapp, site.beta_key, q="S1") == []
    assert samples(testapp, site.beta_key, q="alice") == []


# What search words match follows every change, in the same transaction


def set_value(dbsession, sample: str, column: str, value: str) -> None:
    """A submitted value changed in the database itself (a correction made in SQL)."""
    sample_id = select(MetaDatum.id).where(MetaDatum.name == "SampleId").scalar_subquery()
    column_id = select(MetaDatum.id).where(MetaDatum.name == column).scalar_subquery()
    the_set = (
        select(MetaDatumRecord.metadataset_id)
        .where(MetaDatumRecord.metadatum_id == sample_id, MetaDatumRecord.value == sample)
        .scalar_subquery()
    )
    dbsession.execute(
        update(MetaDatumRecord)
        .where(MetaDatumRecord.metadataset_id == the_set, MetaDatumRecord.metadatum_id == column_id)
        .values(value=value)
    )


@BEFORE_AND_AFTER_THE_WORKER
def test_a_changed_value_is_found_by_its_new_text_and_no_longer_by_its_old(
    testapp, site, dbsession
):
    set_value(dbsession, "S101", "Note", "Reworked")
    assert samples(testapp, site.alpha_key, q="reworked") == ["S101"]
    assert samples(testapp, site.alpha_key, q="done") == []


@BEFORE_AND_AFTER_THE_WORKER
def test_a_deleted_value_is_no_longer_found(testapp, site, dbsession):
    note = select(MetaDatum.id).where(MetaDatum.name == "Note").scalar_subquery()
    dbsession.execute(
        delete(MetaDatumRecord).where(
            MetaDatumRecord.metadatum_id == note, MetaDatumRecord.value == "100% done"
        )
    )
    assert samples(testapp, site.alpha_key, q="done") == []


def test_a_renamed_user_is_found_by_the_new_name_only(testapp, site, dbsession):
    site.alice.fullname = "Alice Zimmer"
    dbsession.flush()
    assert samples(testapp, site.reader_key, q="zimmer") == ["S100", "S101", "S102"]
    assert samples(testapp, site.reader_key, q="anders") == []


def test_a_renamed_group_is_found_by_the_new_name_only(testapp, site, dbsession):
    site.alpha.name = "Omega Group"
    dbsession.flush()
    assert samples(testapp, site.reader_key, q="omega") == ["S100", "S101", "S102"]
    assert samples(testapp, site.reader_key, q="alpha") == []


def test_a_relabelled_submission_is_found_by_the_new_label_only(testapp, site, dbsession):
    submission = dbsession.scalar(
        select(Submission).where(Submission.site_id == site.alpha_submission["id"]["site"])
    )
    submission.label = "second look"
    dbsession.flush()
    assert samples(testapp, site.alpha_key, q="look") == ["S100", "S101", "S102"]
    assert samples(testapp, site.alpha_key, q="first") == []


@BEFORE_AND_AFTER_THE_WORKER
def test_a_column_given_to_a_service_is_no_longer_found_by_group_members(testapp, site, dbsession):
    note = dbsession.scalar(select(MetaDatum).where(MetaDatum.name == "Note"))
    note.service_id = dbsession.scalar(select(Service.id).where(Service.name == "QC"))
    dbsession.flush()
    assert samples(testapp, site.alpha_key, q="done") == []
    assert samples(testapp, site.reader_key, q="done") == ["S101"]
    note.service_id = None
    dbsession.flush()
    assert samples(testapp, site.alpha_key, q="done") == ["S101"]


def test_staged_sets_have_no_search_text(testapp, site, dbsession):
    staged = stage(testapp, site.alpha_key, {"SampleId": "S900", "Note": "fresh"}).json
    written = select(MetaDataSet.search_text).where(MetaDataSet.site_id == staged["id"]["site"])
    assert dbsession.scalar(written) is None
    assert samples(testapp, site.alpha_key, q="fresh") == []


def write_jobs_waiting(dbsession) -> int:
    """Jobs waiting to write search texts (this test's, and committed ones left over)."""
    return dbsession.scalar(
        text(
            "SELECT count(*) FROM procrastinate_jobs"
            " WHERE task_name = :task AND queue_name = :queue AND status = 'todo'"
        ),
        {"task": jobs.WRITE_SEARCH_TEXTS, "queue": jobs.SEARCH_TEXTS_QUEUE},
    )


def test_a_set_is_found_the_moment_it_is_submitted_and_after_the_worker_wrote_its_text(
    testapp, site, dbsession
):
    staged = stage(testapp, site.alpha_key, {"SampleId": "S900", "Note": "fresh"}).json
    written = select(MetaDataSet.search_text).where(MetaDataSet.site_id == staged["id"]["site"])
    jobs_before = write_jobs_waiting(dbsession)
    testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [staged["id"]["site"]], "fileIds": [], "label": None},
        headers=api_headers(site.alpha_key),
    )
    # The submission answered without writing the text, and deferred the job that does.
    assert dbsession.scalar(written) is None
    assert write_jobs_waiting(dbsession) == jobs_before + 1
    assert samples(testapp, site.alpha_key, q="fresh") == ["S900"]
    assert samples(testapp, site.alpha_key, q="fresh s900") == ["S900"]
    assert samples(testapp, site.alpha_key, q="stale") == []

    search_texts.write_batch(dbsession)
    assert "fresh" in dbsession.scalar(written)
    assert samples(testapp, site.alpha_key, q="fresh") == ["S900"]


def test_a_search_computes_the_unwritten_texts_once_however_many_its_words(
    testapp, site, dbsession, dbengine
):
    with recorded_statements(dbengine) as statements:
        assert samples(testapp, site.alpha_key, q="s10 first done") == ["S101"]
    computing = [sql for sql in statements if "unwritten_search_texts(" in sql]
    assert computing
    assert all(sql.count("unwritten_search_texts(") == 1 for sql in computing)


def test_too_many_words_are_refused(testapp, site):
    response = listed(testapp, site.alpha_key, q=" ".join(["w"] * 21), status=400)
    assert_api_error(response, 400, field="q")


# Column filters


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("SampleId:contains:s10", ["S100", "S101", "S102"]),
        ("SampleId:equals:S101", ["S101"]),
        ("SampleId:equals:s101", []),
        ("Note:empty", ["S102", "S200"]),
        ("Note:notempty", ["S100", "S101"]),
        ("Date:from:2021-06-01", ["S101", "S200"]),
        ("Date:to:2021-06-01", ["S100", "S200"]),
        ("Date:equals:2021-03-04T00:00:00", ["S100"]),
        ("Date:to:9999-12-31", ["S100", "S101", "S200"]),  # no day after it, no overflow
        ("Reads:contains:.fq", ["S100"]),
        ("QC:equals:pass", ["S100"]),
    ],
)
def test_a_column_filter(testapp, site, spec, expected):
    assert samples(testapp, site.reader_key, filter=spec) == expected


def test_filters_all_hold(testapp, site):
    both = [("filter", "Date:from:2021-01-01"), ("filter", "Date:to:2021-12-31")]
    response = testapp.get("/api/v1/metadatasets", both, headers=api_headers(site.reader_key))
    assert [m["record"]["SampleId"] for m in response.json] == ["S100", "S200"]


@pytest.mark.parametrize(
    "spec",
    [
        "Nope:contains:x",  # no such column
        "SampleId:like:x",  # no such operation
        "SampleId:contains",  # no value
        "SampleId:from:2021-01-01",  # not a date column
        "Date:from:yesterday",  # not an ISO date
        "QC:equals:pass",  # a service column: not there for a group member
    ],
)
def test_a_filter_that_cannot_apply_is_refused_naming_it(testapp, site, spec):
    response = listed(testapp, site.alpha_key, filter=spec, status=400)
    assert_api_error(response, 400, field="filter")


# Submission, group and user


def test_sets_of_one_submission_by_uuid_or_site_id(testapp, site):
    submission = site.alpha_submission["id"]
    for given in (submission["uuid"], submission["site"]):
        assert samples(testapp, site.alpha_key, submissionId=given) == ["S100", "S101", "S102"]


def test_site_readers_filter_by_group_and_user(testapp, site):
    assert samples(testapp, site.reader_key, groupId=site.beta.site_id) == ["S200"]
    assert samples(testapp, site.reader_key, userId=str(site.alice.uuid)) == [
        "S100",
        "S101",
        "S102",
    ]


@pytest.mark.parametrize(
    "params",
    [
        lambda s: {"groupId": s.alpha.site_id},
        lambda s: {"userId": s.alice.site_id},
        lambda s: {"submissionId": s.alpha_submission["id"]["uuid"]},
        lambda s: {"submissionId": "DMS-99999999"},
        lambda s: {"groupId": "not an id"},
    ],
)
def test_another_groups_data_is_found_like_nothing_at_all(testapp, site, params):
    response = listed(testapp, site.beta_key, limit=10, **params(site))
    assert response.json == []
    assert response.headers["X-Total-Count"] == "0"


# Sorting and counting


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("record.SampleId", ["S100", "S101", "S102", "S200"]),
        ("-record.SampleId", ["S200", "S102", "S101", "S100"]),
        ("record.Date", ["S100", "S200", "S101", "S102"]),  # empty last
        ("-record.Date", ["S101", "S200", "S100", "S102"]),  # empty last either way
        ("-submittedAt", ["S200", "S102", "S101", "S100"]),
        ("group", ["S100", "S101", "S102", "S200"]),
        ("-user", ["S200", "S102", "S101", "S100"]),
        ("-id", ["S200", "S102", "S101", "S100"]),
        ("record.QC", ["S100", "S101", "S102", "S200"]),
    ],
)
def test_sorting_by_a_field_or_any_column(testapp, site, sort, expected):
    assert samples(testapp, site.reader_key, sort=sort) == expected


@pytest.mark.parametrize("walk", [datameta.logic.listing.WALK, 0, 2, 3])
@pytest.mark.parametrize(
    "sort", ["record.Date", "-record.Date", "record.Note", "-record.Note", "-record.QC"]
)
def test_every_page_of_a_sort_by_a_column_is_a_slice_of_the_whole_listing(
    testapp, site, monkeypatch, sort, walk
):
    # Fewer matching sets than the walk are sorted whole; more are read in the column's
    # index order, sets with a value first, then those without, or (walk 0: too few
    # matches among the first values) sorted whole after all: every way gives the
    # whole listing's order (and an export's), at any offset.
    monkeypatch.setattr(datameta.logic.listing, "WALK", walk)
    whole = samples(testapp, site.reader_key, sort=sort)
    for limit in (1, 2, 3):
        for offset in range(len(whole) + 1):
            page = listed(testapp, site.reader_key, sort=sort, limit=limit, offset=offset)
            assert [m["record"]["SampleId"] for m in page.json] == whole[offset : offset + limit]
            assert page.headers["X-Total-Count"] == str(len(whole))


@BEFORE_AND_AFTER_THE_WORKER
@pytest.mark.parametrize("walk", [datameta.logic.listing.WALK, 0, 2])
def test_a_search_sorted_by_a_column_is_paged_alike_whether_texts_are_written_or_not(
    testapp, site, monkeypatch, walk
):
    monkeypatch.setattr(datameta.logic.listing, "WALK", walk)
    params = {"q": "s", "sort": "-record.SampleId"}
    whole = samples(testapp, site.reader_key, **params)
    assert whole == ["S200", "S102", "S101", "S100"]
    for offset in range(len(whole) + 1):
        page = listed(testapp, site.reader_key, limit=2, offset=offset, **params)
        assert [m["record"]["SampleId"] for m in page.json] == whole[offset : offset + 2]
        assert page.headers["X-Total-Count"] == "4"


def test_a_sort_by_a_column_compares_the_first_255_characters_then_the_sets(testapp, site):
    long = "x" * 255
    submit(testapp, site.alpha_key, [{"SampleId": "S901", "Note": long + "b"}], "first")
    submit(testapp, site.alpha_key, [{"SampleId": "S900", "Note": long + "a"}], "second")
    submit(testapp, site.alpha_key, [{"SampleId": "S902", "Note": "x" * 254 + "y"}], "third")
    assert samples(testapp, site.alpha_key, sort="record.Note", q="S90") == ["S901", "S900", "S902"]
    assert samples(testapp, site.alpha_key, sort="-record.Note", q="S90", limit=3) == [
        "S902",
        "S900",
        "S901",
    ]


@pytest.mark.parametrize("sort", ["record.Nope", "name", "record.QC"])
def test_sorting_by_what_is_not_there_is_refused(testapp, site, sort):
    response = listed(testapp, site.alpha_key, sort=sort, status=400)
    assert_api_error(response, 400, field="sort")


@pytest.mark.parametrize(("who", "total"), [("alpha_key", 3), ("beta_key", 1), ("reader_key", 4)])
def test_the_total_counts_what_each_role_may_read(testapp, site, who, total):
    response = listed(testapp, getattr(site, who), limit=1, sort="-submittedAt")
    assert response.headers["X-Total-Count"] == str(total)
    assert len(response.json) == 1


def test_a_page_of_a_sorted_filtered_listing(testapp, site):
    response = listed(testapp, site.reader_key, limit=2, offset=1, sort="-record.SampleId", q="s")
    assert [m["record"]["SampleId"] for m in response.json] == ["S102", "S101"]
    assert response.headers["X-Total-Count"] == "4"


@pytest.mark.parametrize(
    "params", [{"q": "S1"}, {"format": "csv"}, {"filter": "SampleId:empty"}, {"sort": "id"}]
)
def test_anonymous_callers_find_nothing(testapp, params):
    response = testapp.get("/api/v1/metadatasets", params, status=401)
    assert_api_error(response, 401)


# A time limit for the database


def add_many_sets(dbsession, site, count: int) -> None:
    """``count`` more submitted sets of Alpha Lab, made in SQL, with their search text."""
    first = site.alpha_submission["metadatasetIds"][0]["site"]
    dbsession.execute(
        text(
            "INSERT INTO metadatasets (site_id, user_id, group_id, submission_id) "
            "SELECT 'DMR-T' || n, s.user_id, s.group_id, s.submission_id "
            "FROM metadatasets AS s, generate_series(1, :count) AS n WHERE s.site_id = :first"
        ),
        {"count": count, "first": first},
    )
    dbsession.execute(
        text(
            "INSERT INTO metadatumrecords (metadataset_id, metadatum_id, value) "
            "SELECT s.id, m.id, 'S' || s.id FROM metadatasets AS s, metadata AS m "
            "WHERE s.site_id LIKE 'DMR-T%' AND m.name = 'SampleId'"
        )
    )
    dbsession.execute(
        text(
            "SELECT refresh_search_text(ARRAY("
            "SELECT id FROM metadatasets WHERE site_id LIKE 'DMR-T%'))"
        )
    )


@pytest.fixture
def hasty_testapp(app, tm, dbsession):
    """The app with a listing statement timeout of one millisecond."""
    hasty = make_app(
        {**TEST_INI, "datameta.listing.statement_timeout_ms": "1"},
        dbengine=app.registry["dbengine"],
    )
    return client_in_transaction(hasty, tm, dbsession)


# Twenty words, each in every set's "DMR-T..." site id: thousands of sets to read twenty times.
SLOW_WORDS = " ".join(["dmr-t", "mr-t", "r-t", "dmr-", "dmr", "-t"] * 3 + ["dm", "mr"])


@pytest.mark.parametrize("params", [{"limit": 25}, {"format": "csv"}, {}])
def test_a_search_longer_than_the_site_allows_answers_503(
    testapp, hasty_testapp, site, dbsession, params
):
    add_many_sets(dbsession, site, 3000)
    response = listed(hasty_testapp, site.alpha_key, status=503, q=SLOW_WORDS, **params)
    assert_api_error(response, 503, "ServiceUnavailable")
    assert response.json[0]["error_code"] == "statement_timeout"


def test_the_same_search_within_the_time_limit_answers(testapp, site, dbsession):
    add_many_sets(dbsession, site, 3000)
    response = listed(testapp, site.alpha_key, q=SLOW_WORDS, limit=25)
    assert response.headers["X-Total-Count"] == "3000"


# Exports


def export(testapp, key, file_format, **params):
    response = listed(testapp, key, format=file_format, **params)
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="metadatasets.{file_format}"'
    )
    return response


def rows_of(response, file_format) -> list[list[str]]:
    if file_format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response.body), read_only=True).active
        return [["" if c is None else c for c in row] for row in sheet.iter_rows(values_only=True)]
    delimiter = "," if file_format == "csv" else "\t"
    return list(csv.reader(io.StringIO(response.body.decode()), delimiter=delimiter))


HEADER = [
    "Record",
    "Submission",
    "Submission label",
    "Submitted at",
    "User",
    "User name",
    "Group",
    "Group name",
    "SampleId",
    "Date",
    "Note",
    "Reads",
    "Reads site id",
    "Reads size",
    "Reads MD5",
]


@pytest.mark.parametrize("file_format", ["csv", "tsv", "xlsx"])
def test_a_table_export_has_one_row_per_set_with_its_file_manifest(testapp, site, file_format):
    response = export(testapp, site.alpha_key, file_format, sort="-record.SampleId")
    header, *rows = rows_of(response, file_format)
    assert header == HEADER  # no service column for a group member
    assert [row[8] for row in rows] == ["S102", "S101", "S100"]
    first = dict(zip(header, rows[2], strict=True))
    assert first["Submission"] == site.alpha_submission["id"]["site"]
    assert first["Submission label"] == "first run"
    assert first["User name"] == "Alice Anders"
    assert first["Group name"] == "Alpha Lab"
    assert first["Date"] == "2021-03-04"
    assert first["Note"] == "0012"  # text stays text, leading zeros and all
    assert first["Reads"] == "a_100.fq"
    assert first["Reads site id"] == site.file["id"]["site"]
    assert first["Reads size"] == str(len(READS))
    assert first["Reads MD5"] == site.file["checksum"]
    assert rows[0][header.index("Reads")] == ""  # empty, not "None" or "null"


def test_an_xlsx_export_holds_text_cells(testapp, site):
    response = export(testapp, site.alpha_key, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.body)).active
    assert {cell.data_type for row in sheet.iter_rows(min_row=2) for cell in row} <= {"s", "n"}
    assert all(
        cell.data_type == "s" for row in sheet.iter_rows(min_row=2) for cell in row if cell.value
    )


FORMULAS = ["=1+2", "+1+1", "@SUM(A1)", "-2+3"]


@pytest.fixture
def formulas(testapp, site):
    """A submission whose notes and label a spreadsheet would take for formulas."""
    records = [{"SampleId": f"S{300 + i}", "Note": note} for i, note in enumerate(FORMULAS)]
    records.append({"SampleId": "S310", "Note": "-12.5"})
    submit(testapp, site.alpha_key, records, "=cmd|' /C calc'!A0")


@pytest.mark.parametrize("file_format", ["csv", "tsv"])
def test_formula_like_cells_are_text_in_csv_and_tsv(testapp, site, formulas, file_format):
    response = export(testapp, site.alpha_key, file_format, filter="SampleId:contains:S3")
    header, *rows = rows_of(response, file_format)
    notes = [row[header.index("Note")] for row in rows]
    assert notes == ["'" + formula for formula in FORMULAS] + ["-12.5"]  # a number stays
    assert {row[header.index("Submission label")] for row in rows} == {"'=cmd|' /C calc'!A0"}


def test_formula_like_cells_are_quote_prefixed_text_in_xlsx(testapp, site, formulas):
    response = export(testapp, site.alpha_key, "xlsx", filter="SampleId:contains:S3")
    sheet = openpyxl.load_workbook(io.BytesIO(response.body)).active
    header = [cell.value for cell in sheet[1]]
    notes = [row[header.index("Note")] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in notes] == [*FORMULAS, "-12.5"]  # the text, unchanged
    assert all(cell.data_type == "s" for cell in notes)
    assert [cell.quotePrefix for cell in notes] == [True] * len(FORMULAS) + [False]


def test_a_json_export_keeps_formula_like_values_as_they_are(testapp, site, formulas):
    items = json.loads(export(testapp, site.alpha_key, "json", filter="SampleId:contains:S3").body)
    assert [item["record"]["Note"] for item in items] == [*FORMULAS, "-12.5"]


def test_a_site_reader_exports_service_columns_and_every_group(testapp, site):
    header, *rows = rows_of(export(testapp, site.reader_key, "csv"), "csv")
    assert header == [*HEADER, "QC"]
    assert [(row[8], row[-1]) for row in rows] == [
        ("S100", "pass"),
        ("S101", ""),
        ("S102", ""),
        ("S200", ""),
    ]


def test_a_json_export_names_who_when_and_the_files(testapp, site):
    response = export(testapp, site.reader_key, "json", q="S100")
    assert_matches_spec(response, "GET", "/api/v1/metadatasets")
    (item,) = json.loads(response.body)
    assert item["submission"]["label"] == "first run"
    alice = {"uuid": str(site.alice.uuid), "site": site.alice.site_id}
    assert item["user"] == {"id": alice, "name": "Alice Anders"}
    assert item["group"]["name"] == "Alpha Lab"
    assert item["record"]["SampleId"] == "S100"
    assert item["files"]["Reads"] == {
        "id": site.file["id"],
        "name": "a_100.fq",
        "size": len(READS),
        "md5": site.file["checksum"],
    }
    assert item["serviceExecutions"]["QC"] is not None


def test_a_json_export_hides_service_columns_from_group_members(testapp, site):
    items = json.loads(export(testapp, site.alpha_key, "json").body)
    assert all("QC" not in item["record"] for item in items)
    assert all(item["serviceExecutions"] is None for item in items)


def test_an_export_takes_the_filter_and_sort_and_paging_counts(testapp, site):
    response = export(
        testapp, site.reader_key, "csv", filter="Date:notempty", sort="-record.Date", limit=2
    )
    assert [row[8] for row in rows_of(response, "csv")[1:]] == ["S101", "S200"]
    assert response.headers["X-Total-Count"] == "3"


def test_a_group_member_exports_only_their_group(testapp, site):
    rows = rows_of(export(testapp, site.beta_key, "csv"), "csv")
    assert [row[8] for row in rows[1:]] == ["S200"]


def test_a_page_costs_the_same_statements_however_many_sets_it_shows(testapp, site, dbengine):
    # S100 first: the page of one has a file and a service report too.
    params = {"q": "s", "filter": "SampleId:notempty", "sort": "record.SampleId"}
    listed(testapp, site.reader_key, limit=1, **params)  # the key's first use is recorded once
    with recorded_statements(dbengine) as small:
        listed(testapp, site.reader_key, limit=1, **params)
    with recorded_statements(dbengine) as large:
        listed(testapp, site.reader_key, limit=4, **params)
    assert len(small) == len(large)


def export_statement_counts(live_app, committed_db, dbengine, file_format) -> tuple[list, list]:
    """Statements of exporting 5, 10 and 15 sets (batches of 5), and the last export's rows."""
    key = committed_submitter(committed_db, live_app)
    counts = []
    for start in (100, 200, 300):
        submit(live_app, key, [{"SampleId": f"S{start + i}"} for i in range(5)], None)
        with recorded_statements(dbengine) as statements:
            response = export(live_app, key, file_format)
        counts.append(len(statements))
    rows = response.json if file_format == "json" else rows_of(response, file_format)[1:]
    return counts, rows


@pytest.mark.parametrize("file_format", ["csv", "tsv", "xlsx"])
def test_a_table_export_is_one_statement_whatever_the_number_of_sets(
    live_app, committed_db, dbengine, monkeypatch, file_format
):
    monkeypatch.setattr(datameta.logic.metadatasets, "STREAM_BATCH_SIZE", 5)
    counts, rows = export_statement_counts(live_app, committed_db, dbengine, file_format)
    assert len(rows) == 15
    assert [row[8] for row in rows] == [
        f"S{start + i}" for start in (100, 200, 300) for i in range(5)
    ]
    assert counts[0] == counts[1] == counts[2]


def test_a_json_export_reads_a_fixed_number_of_statements_per_batch(
    live_app, committed_db, dbengine, monkeypatch
):
    monkeypatch.setattr(datameta.logic.metadatasets, "STREAM_BATCH_SIZE", 5)
    counts, rows = export_statement_counts(live_app, committed_db, dbengine, "json")
    assert len(rows) == 15
    per_batch = counts[1] - counts[0]
    assert 0 < per_batch <= 6
    assert counts[2] - counts[1] == per_batch


@pytest.mark.parametrize("params", [{"format": "csv"}, {"format": "json"}, {}])
def test_a_streamed_answer_of_many_batches_over_http_is_whole(
    live_server, live_app, committed_db, monkeypatch, params
):
    # Served by waitress: the body is read after the request's transaction has ended.
    monkeypatch.setattr(datameta.logic.metadatasets, "STREAM_BATCH_SIZE", 2)
    admin_key = make_api_key(committed_db, make_user(committed_db, site_admin=True))
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    define_sample_sheet(live_app, admin_key)
    submit(live_app, key, [{"SampleId": f"S{100 + i}"} for i in range(7)], None)
    response = requests.get(
        f"{live_server}/api/v1/metadatasets",
        params,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200
    if params:
        body = response.content.decode()
        found = (
            [row[8] for row in list(csv.reader(io.StringIO(body)))[1:]]
            if params["format"] == "csv"
            else [item["record"]["SampleId"] for item in response.json()]
        )
    else:
        found = [item["record"]["SampleId"] for item in response.json()]
    assert found == [f"S{100 + i}" for i in range(7)]
