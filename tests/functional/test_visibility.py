"""What a caller may not see answers exactly like an id that names nothing.

One table of operations on objects of a lab: each is tried by an anonymous
caller, by outsiders from another group, and by the one who may do it. An
outsider's answer must be byte for byte the answer for a random unknown id
(apart from the echoed id), so probing ids tells nothing. A second table shows
the other half of the rule: who sees an object but may not change it gets 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import (
    add_request,
    define,
    define_service_column,
    make_api_key,
    make_group,
    make_user,
    stage,
)
from tests.helpers import api_headers, assert_api_error


@dataclass
class Lab:
    """A lab with a member's staged and submitted data, a service and a registration request."""

    db: Any
    lab: Any
    admin: Any  # site admin of another group, not a site reader
    lab_admin: Any
    owner: Any  # a regular member of the lab who owns the data
    reader: Any  # site reader of another group
    runner: Any  # a lab member assigned to the service
    outsiders: dict[str, Any]
    owner_key_id: str
    staged: str
    submitted: str
    submission: str
    file: str
    service: str
    registration: str

    def key(self, user) -> str:
        return make_api_key(self.db, user)


@pytest.fixture
def lab(testapp, dbsession) -> Lab:
    lab = make_group(dbsession, "Visible Lab")
    other = make_group(dbsession, "Outside Lab")
    admin = make_user(dbsession, group=make_group(dbsession), site_admin=True)
    owner = make_user(dbsession, group=lab, fullname="Olga Owner")
    runner = make_user(dbsession, group=lab, fullname="Rudi Runner")
    define(testapp, make_api_key(dbsession, admin), isSiteUnique=False)
    admin_headers = api_headers(make_api_key(dbsession, admin))
    service = define_service_column(
        testapp, make_api_key(dbsession, admin), regExp="pass|fail", isMandatory=True
    )
    testapp.put_json(
        f"/api/v1/services/{service['id']['site']}",
        {"userIds": [runner.site_id]},
        headers=admin_headers,
    )
    owner_key = make_api_key(dbsession, owner)
    submitted = stage(testapp, owner_key, {"SampleId": "S1"}).json["id"]["site"]
    submission = testapp.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [submitted], "fileIds": []},
        headers=api_headers(owner_key),
    ).json["id"]["site"]
    staged = stage(testapp, owner_key, {"SampleId": "S2"}).json["id"]["site"]
    file = testapp.post_json(
        "/api/v1/files",
        {"name": "reads.fq", "checksum": "0" * 32},
        headers=api_headers(owner_key),
    ).json["id"]["site"]
    keys = testapp.get(f"/api/v1/users/{owner.site_id}/keys", headers=api_headers(owner_key))
    return Lab(
        db=dbsession,
        lab=lab,
        admin=admin,
        lab_admin=make_user(dbsession, group=lab, group_admin=True),
        owner=owner,
        reader=make_user(dbsession, group=other, site_read=True),
        runner=runner,
        outsiders={
            "regular user of another group": make_user(dbsession, group=other),
            "group admin of another group": make_user(dbsession, group=other, group_admin=True),
        },
        owner_key_id=keys.json[0]["id"]["uuid"],
        staged=staged,
        submitted=submitted,
        submission=submission,
        file=file,
        service=service["id"]["site"],
        registration=str(add_request(dbsession, group=lab).uuid),
    )


@dataclass(frozen=True)
class Operation:
    """One call on one object: how to make it for an id, who may, and what they get."""

    method: str
    path: Callable[[Lab, str], str]
    real_id: Callable[[Lab], str]
    unknown_id: str
    allowed: Callable[[Lab], Any]
    status: int
    body: dict | None = None


UNKNOWN_UUID = str(uuid.UUID(int=0x5EED, version=4))

OPERATIONS = {
    "unlock a user": Operation(
        "DELETE", lambda _, i: f"/users/{i}/lockout", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.lab_admin, 204,
    ),
    "reset a second factor": Operation(
        "DELETE", lambda _, i: f"/users/{i}/totp-secret", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.admin, 200,
    ),
    "show a user": Operation(
        "GET", lambda _, i: f"/users/{i}", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.owner, 200,
    ),
    "rename a user": Operation(
        "PUT", lambda _, i: f"/users/{i}", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.lab_admin, 204, {"name": "New Name"},
    ),
    "list a user's API keys": Operation(
        "GET", lambda _, i: f"/users/{i}/keys", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.owner, 200,
    ),
    "delete a user's API key": Operation(
        "DELETE", lambda _, i: f"/keys/{i}", lambda s: s.owner_key_id,
        UNKNOWN_UUID, lambda s: s.owner, 200,
    ),
    "list a user's staged metadatasets": Operation(
        "GET", lambda _, i: f"/users/{i}/pending_metadatasets", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.owner, 200,
    ),
    "list a user's staged files": Operation(
        "GET", lambda _, i: f"/users/{i}/pending_files", lambda s: s.owner.site_id,
        "DMU-99999999", lambda s: s.owner, 200,
    ),
    "show a staged metadataset": Operation(
        "GET", lambda _, i: f"/metadatasets/{i}", lambda s: s.staged,
        "DMR-99999999", lambda s: s.owner, 200,
    ),
    "delete a staged metadataset": Operation(
        "DELETE", lambda _, i: f"/metadatasets/{i}", lambda s: s.staged,
        "DMR-99999999", lambda s: s.owner, 204,
    ),
    "show a submitted metadataset": Operation(
        "GET", lambda _, i: f"/metadatasets/{i}", lambda s: s.submitted,
        "DMR-99999999", lambda s: s.lab_admin, 200,
    ),
    "show a staged file": Operation(
        "GET", lambda _, i: f"/files/{i}", lambda s: s.file,
        "DMF-99999999", lambda s: s.owner, 200,
    ),
    "delete a staged file": Operation(
        "DELETE", lambda _, i: f"/files/{i}", lambda s: s.file,
        "DMF-99999999", lambda s: s.owner, 204,
    ),
    "show a submission": Operation(
        "GET", lambda _, i: f"/submissions/{i}", lambda s: s.submission,
        "DMS-99999999", lambda s: s.owner, 200,
    ),
    "show a group": Operation(
        "GET", lambda _, i: f"/groups/{i}", lambda s: s.lab.site_id,
        "DMG-99999999", lambda s: s.owner, 200,
    ),
    "list a group's submissions": Operation(
        "GET", lambda _, i: f"/groups/{i}/submissions", lambda s: s.lab.site_id,
        "DMG-99999999", lambda s: s.owner, 200,
    ),
    "run a service": Operation(
        "POST", lambda s, i: f"/service-execution/{i}/{s.submitted}", lambda s: s.service,
        "DMP-99999999", lambda s: s.runner, 200, {"record": {"QC": "pass"}, "fileIds": []},
    ),
    "run a service on a metadataset": Operation(
        "POST", lambda s, i: f"/service-execution/{s.service}/{i}", lambda s: s.submitted,
        "DMR-99999999", lambda s: s.runner, 200, {"record": {"QC": "pass"}, "fileIds": []},
    ),
    "accept a registration request": Operation(
        "POST", lambda _, i: f"/registrations/{i}/accept", lambda s: s.registration,
        UNKNOWN_UUID, lambda s: s.lab_admin, 200, {"name": "New Member", "groupAdmin": False},
    ),
    "reject a registration request": Operation(
        "POST", lambda _, i: f"/registrations/{i}/reject", lambda s: s.registration,
        UNKNOWN_UUID, lambda s: s.lab_admin, 204,
    ),
}  # fmt: skip

OUTSIDERS = ["regular user of another group", "group admin of another group"]


def call(testapp, operation: Operation, lab: Lab, given: str, headers: dict, status: int):
    path = "/api/v1" + operation.path(lab, given)
    if operation.body is not None:
        send = getattr(testapp, f"{operation.method.lower()}_json")
        return send(path, operation.body, headers=headers, status=status)
    send = getattr(testapp, operation.method.lower())
    return send(path, headers=headers, status=status)


def without(text: str, given: str) -> str:
    return text.replace(given, "<id>")


@pytest.mark.parametrize("outsider", OUTSIDERS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_an_outsider_cannot_tell_the_object_from_an_unknown_id(testapp, lab, name, outsider):
    operation = OPERATIONS[name]
    headers = api_headers(lab.key(lab.outsiders[outsider]))
    real = call(testapp, operation, lab, operation.real_id(lab), headers, status=404)
    unknown = call(testapp, operation, lab, operation.unknown_id, headers, status=404)
    assert_api_error(real, 404, "NotFound")
    assert real.headers["Content-Type"] == unknown.headers["Content-Type"]
    assert without(real.text, operation.real_id(lab)) == without(unknown.text, operation.unknown_id)


@pytest.mark.parametrize("name", OPERATIONS)
def test_an_anonymous_caller_learns_nothing_either(testapp, lab, name):
    operation = OPERATIONS[name]
    real = call(testapp, operation, lab, operation.real_id(lab), {}, status=401)
    unknown = call(testapp, operation, lab, operation.unknown_id, {}, status=401)
    assert_api_error(real, 401)
    assert real.text == unknown.text


@pytest.mark.parametrize("name", OPERATIONS)
def test_the_one_who_may_do_it_does(testapp, lab, name):
    operation = OPERATIONS[name]
    headers = api_headers(lab.key(operation.allowed(lab)))
    call(testapp, operation, lab, operation.real_id(lab), headers, status=operation.status)


# Seen, but not to be changed: 403, and the object is as it was.


def test_a_site_reader_sees_a_user_but_may_not_unlock_them(testapp, lab):
    headers = api_headers(lab.key(lab.reader))
    testapp.get(f"/api/v1/users/{lab.owner.site_id}", headers=headers)
    response = testapp.delete(
        f"/api/v1/users/{lab.owner.site_id}/lockout", headers=headers, status=403
    )
    assert_api_error(response, 403, "AccessDenied")


def test_a_group_admin_sees_a_member_but_may_not_reset_their_second_factor(testapp, lab):
    response = testapp.delete(
        f"/api/v1/users/{lab.owner.site_id}/totp-secret",
        headers=api_headers(lab.key(lab.lab_admin)),
        status=403,
    )
    assert_api_error(response, 403, "AccessDenied")


def test_a_submitted_metadataset_is_seen_but_not_modifiable_as_in_datameta_1(testapp, lab):
    response = testapp.delete(
        f"/api/v1/metadatasets/{lab.submitted}",
        headers=api_headers(lab.key(lab.owner)),
        status=403,
    )
    assert_api_error(response, 403, "ResourceNotModifiableError")


def test_a_site_admin_sees_every_service_but_runs_only_assigned_ones(testapp, lab):
    response = testapp.post_json(
        f"/api/v1/service-execution/{lab.service}/{lab.submitted}",
        {"record": {"QC": "pass"}, "fileIds": []},
        headers=api_headers(lab.key(lab.admin)),
        status=403,
    )
    assert_api_error(response, 403, "AccessDenied")


def test_a_site_admin_sees_a_group_but_not_its_submissions_without_site_read(testapp, lab):
    headers = api_headers(lab.key(lab.admin))
    testapp.get(f"/api/v1/groups/{lab.lab.site_id}", headers=headers)
    response = testapp.get(
        f"/api/v1/groups/{lab.lab.site_id}/submissions", headers=headers, status=403
    )
    assert_api_error(response, 403, "AccessDenied")


def test_a_service_user_who_may_not_read_the_set_is_told_it_does_not_exist(testapp, lab):
    outsider = lab.outsiders["regular user of another group"]
    admin_headers = api_headers(lab.key(lab.admin))
    testapp.put_json(
        f"/api/v1/services/{lab.service}", {"userIds": [outsider.site_id]}, headers=admin_headers
    )
    headers = api_headers(lab.key(outsider))
    body = {"record": {"QC": "pass"}, "fileIds": []}
    url = f"/api/v1/service-execution/{lab.service}/"
    real = testapp.post_json(url + lab.submitted, body, headers=headers, status=404)
    unknown = testapp.post_json(url + "DMR-99999999", body, headers=headers, status=404)
    assert without(real.text, lab.submitted) == without(unknown.text, "DMR-99999999")
