"""What a caller may not see answers exactly like an id that names nothing.

One table of operations on objects of a lab: each is tried by an anonymous
caller, by outsiders from another group, and by the one who may do it, who
is told that an unknown id names nothing (404) like everybody else. An
outsider's answer must be byte for byte the answer for a random unknown id
(apart from the echoed id), so probing ids tells nothing. A second table shows
the other half of the rule: who sees an object but may not change it gets 403.
"""

from __future__ import annotations

import re
import uuid
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

    @property
    def ids(self) -> dict[str, str]:
        """The id of each object of the lab, by the name the operations use."""
        return {
            "user": self.owner.site_id,
            "key": self.owner_key_id,
            "group": self.lab.site_id,
            **{
                name: getattr(self, name)
                for name in ("staged", "submitted", "submission", "file", "service", "registration")
            },
        }


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
    """One call on one object of the lab: where, on which id, who may make it, and the answer.

    ``path`` holds ``{id}`` for the id tried; its other fields name the lab's ids.
    """

    method: str
    path: str
    target: str  # which of the lab's ids is tried
    allowed: str  # which of the lab's people may make the call
    status: int
    body: dict | None = None

    def real_id(self, lab: Lab) -> str:
        return lab.ids[self.target]

    def unknown_id(self, lab: Lab) -> str:
        """An id of the same kind that names nothing: a site id with the prefix, or a UUID."""
        site_id = re.fullmatch(r"([A-Z]+-)[0-9]+", self.real_id(lab))
        return site_id.group(1) + "99999999" if site_id else UNKNOWN_UUID


UNKNOWN_UUID = str(uuid.UUID(int=0x5EED, version=4))
RUN = {"record": {"QC": "pass"}, "fileIds": []}

OPERATIONS = {
    "unlock a user": Operation("DELETE", "/users/{id}/lockout", "user", "lab_admin", 204),
    "reset a second factor": Operation("DELETE", "/users/{id}/totp-secret", "user", "admin", 200),
    "show a user": Operation("GET", "/users/{id}", "user", "owner", 200),
    "rename a user": Operation(
        "PUT", "/users/{id}", "user", "lab_admin", 204, {"name": "New Name"}
    ),
    "list a user's API keys": Operation("GET", "/users/{id}/keys", "user", "owner", 200),
    "delete a user's API key": Operation("DELETE", "/keys/{id}", "key", "owner", 200),
    "list a user's staged metadatasets": Operation(
        "GET", "/users/{id}/pending_metadatasets", "user", "owner", 200
    ),
    "list a user's staged files": Operation(
        "GET", "/users/{id}/pending_files", "user", "owner", 200
    ),
    "show a staged metadataset": Operation("GET", "/metadatasets/{id}", "staged", "owner", 200),
    "delete a staged metadataset": Operation(
        "DELETE", "/metadatasets/{id}", "staged", "owner", 204
    ),
    "show a submitted metadataset": Operation(
        "GET", "/metadatasets/{id}", "submitted", "lab_admin", 200
    ),
    "show a staged file": Operation("GET", "/files/{id}", "file", "owner", 200),
    "delete a staged file": Operation("DELETE", "/files/{id}", "file", "owner", 204),
    "show a submission": Operation("GET", "/submissions/{id}", "submission", "owner", 200),
    "show a group": Operation("GET", "/groups/{id}", "group", "owner", 200),
    "list a group's submissions": Operation(
        "GET", "/groups/{id}/submissions", "group", "owner", 200
    ),
    "run a service": Operation(
        "POST", "/service-execution/{id}/{submitted}", "service", "runner", 200, RUN
    ),
    "run a service on a metadataset": Operation(
        "POST", "/service-execution/{service}/{id}", "submitted", "runner", 200, RUN
    ),
    "accept a registration request": Operation(
        "POST",
        "/registrations/{id}/accept",
        "registration",
        "lab_admin",
        200,
        {"name": "New Member", "groupAdmin": False},
    ),
    "reject a registration request": Operation(
        "POST", "/registrations/{id}/reject", "registration", "lab_admin", 204
    ),
}

OUTSIDERS = ["regular user of another group", "group admin of another group"]


def call(testapp, operation: Operation, lab: Lab, given: str, headers: dict, status: int):
    path = "/api/v1" + operation.path.format(**lab.ids, id=given)
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
    unknown = call(testapp, operation, lab, operation.unknown_id(lab), headers, status=404)
    assert_api_error(real, 404, "NotFound")
    assert real.headers["Content-Type"] == unknown.headers["Content-Type"]
    assert without(real.text, operation.real_id(lab)) == without(
        unknown.text, operation.unknown_id(lab)
    )


@pytest.mark.parametrize("name", OPERATIONS)
def test_an_anonymous_caller_learns_nothing_either(testapp, lab, name):
    operation = OPERATIONS[name]
    real = call(testapp, operation, lab, operation.real_id(lab), {}, status=401)
    unknown = call(testapp, operation, lab, operation.unknown_id(lab), {}, status=401)
    assert_api_error(real, 401)
    assert real.text == unknown.text


@pytest.mark.parametrize("name", OPERATIONS)
def test_the_one_who_may_do_it_does(testapp, lab, name):
    operation = OPERATIONS[name]
    headers = api_headers(lab.key(getattr(lab, operation.allowed)))
    call(testapp, operation, lab, operation.real_id(lab), headers, status=operation.status)


@pytest.mark.parametrize("name", OPERATIONS)
def test_the_one_who_may_do_it_is_told_that_an_unknown_id_names_nothing(testapp, lab, name):
    operation = OPERATIONS[name]
    headers = api_headers(lab.key(getattr(lab, operation.allowed)))
    response = call(testapp, operation, lab, operation.unknown_id(lab), headers, status=404)
    assert_api_error(response, 404, "NotFound")


# Seen, but not to be changed: 403.


@dataclass(frozen=True)
class Refusal:
    """Who makes a call they may not, on an object they see (by ``seen``, where it applies)."""

    who: str
    seen: str | None
    refused: Operation
    exception: str


# Nobody may delete a submitted set: the operation is only ever refused.
DELETE_SUBMITTED = Operation("DELETE", "/metadatasets/{id}", "submitted", "nobody", 403)

REFUSALS = {
    "a site reader sees a user but may not unlock them": Refusal(
        "reader", "show a user", OPERATIONS["unlock a user"], "AccessDenied"
    ),
    "a group admin sees a member but may not reset their second factor": Refusal(
        "lab_admin", "show a user", OPERATIONS["reset a second factor"], "AccessDenied"
    ),
    "a submitted metadataset is seen but not modifiable, as in DataMeta 1": Refusal(
        "owner", "show a submitted metadataset", DELETE_SUBMITTED, "ResourceNotModifiableError"
    ),
    "a site admin sees every service but runs only assigned ones": Refusal(
        "admin", None, OPERATIONS["run a service on a metadataset"], "AccessDenied"
    ),
    "a site admin sees a group but not its submissions without site read": Refusal(
        "admin", "show a group", OPERATIONS["list a group's submissions"], "AccessDenied"
    ),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_who_sees_an_object_but_may_not_make_the_call_gets_403(testapp, lab, name):
    refusal = REFUSALS[name]
    headers = api_headers(lab.key(getattr(lab, refusal.who)))
    if refusal.seen is not None:
        seen = OPERATIONS[refusal.seen]
        call(testapp, seen, lab, seen.real_id(lab), headers, status=200)
    refused = refusal.refused
    response = call(testapp, refused, lab, refused.real_id(lab), headers, status=403)
    assert_api_error(response, 403, refusal.exception)


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
