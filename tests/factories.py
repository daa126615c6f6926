"""Build what tests need with sensible defaults: model objects, and data made through the API."""

from __future__ import annotations

import hashlib
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from datameta.logic.metadata import DefinitionInput
from datameta.models import ApiKey, AppSetting, Group, RegistrationRequest, UsedPassword, User
from datameta.security.passwords import hash_password
from datameta.security.tokens import generate_token, hash_token
from tests.helpers import api_headers

DEFAULT_PASSWORD = "Good-Password-1"
_counter = itertools.count(1)
# bcrypt is slow on purpose; tests reuse one hash of the default password.
_default_hash = hash_password(DEFAULT_PASSWORD)


def make_group(db: Session, name: str | None = None) -> Group:
    group = Group(name=name or f"Group {next(_counter)}")
    db.add(group)
    db.flush()
    return group


def make_user(
    db: Session,
    *,
    group: Group | None = None,
    email: str | None = None,
    fullname: str | None = None,
    password: str = DEFAULT_PASSWORD,
    site_admin: bool = False,
    group_admin: bool = False,
    site_read: bool = False,
    enabled: bool = True,
) -> User:
    number = next(_counter)
    pwhash = _default_hash if password == DEFAULT_PASSWORD else hash_password(password)
    user = User(
        email=email or f"user{number}@example.org",
        fullname=fullname or f"User {number}",
        pwhash=pwhash,
        group=group or make_group(db),
        site_admin=site_admin,
        group_admin=group_admin,
        site_read=site_read,
        enabled=enabled,
    )
    db.add(user)
    db.flush()
    db.add(UsedPassword(user_id=user.id, pwhash=pwhash))
    db.flush()
    return user


def make_api_key(
    db: Session, user: User, *, label: str = "test key", expires: datetime | None = None
) -> str:
    """Create an API key for ``user`` (valid for a day by default); return its token."""
    token = generate_token()
    db.add(
        ApiKey(
            user_id=user.id,
            token_hash=hash_token(token),
            label=label,
            expires=expires or datetime.now(UTC) + timedelta(days=1),
        )
    )
    db.flush()
    return token


def set_app_setting(db: Session, key: str, value: Any) -> None:
    """Change an application setting inside the test's transaction."""
    db.scalar(select(AppSetting).where(AppSetting.key == key)).value = value
    db.flush()


def add_request(
    db: Session,
    *,
    group: Group | None = None,
    new_group_name: str | None = None,
    email: str = "applicant@example.org",
) -> RegistrationRequest:
    """A pending registration request for an existing group, or else a new one."""
    registration = RegistrationRequest(
        fullname="Applicant Name",
        email=email,
        group=group,
        new_group_name=None if group else (new_group_name or "Brand New Lab"),
    )
    db.add(registration)
    db.flush()
    return registration


def pending(db: Session, email: str) -> RegistrationRequest | None:
    """The pending registration request with this email, if any."""
    return db.scalar(select(RegistrationRequest).where(RegistrationRequest.email == email))


# Metadata definitions


def definition_input(name: str, order: int = 10, **overrides: Any) -> DefinitionInput:
    """A definition as an admin submits it: an optional free-text column unless overridden."""
    values: dict[str, Any] = {
        "name": name,
        "regex_description": "",
        "long_description": "",
        "example": "",
        "regexp": "",
        "datetime_format": "",
        "mandatory": False,
        "order": order,
        "is_file": False,
        "submission_unique": False,
        "site_unique": False,
        "service_id": "",
    }
    return DefinitionInput(**{**values, **overrides})


# A mandatory sample id, unique within a submission.
SAMPLE_ID = definition_input(
    "SampleId",
    regex_description="S followed by digits",
    example="S1",
    regexp="^S[0-9]+$",
    mandatory=True,
    submission_unique=True,
)


# Made through the API, as its clients make them

# The same sample id in the API's wire format, unique site-wide as well.
DEFINITION = {
    "name": "SampleId",
    "regexDescription": "S followed by digits",
    "longDescription": "The sample's identifier",
    "example": "S1",
    "regExp": "S[0-9]+",
    "dateTimeFmt": "",
    "isMandatory": True,
    "order": 10,
    "isFile": False,
    "isSubmissionUnique": True,
    "isSiteUnique": True,
    "serviceId": "",
}


def define(testapp: Any, admin_key: str, **overrides: Any) -> dict:
    body = {**DEFINITION, **overrides}
    return testapp.post_json("/api/v1/metadata", body, headers=api_headers(admin_key)).json


def define_sample_sheet(testapp: Any, admin_key: str) -> None:
    """SampleId (site-unique, S+digits), Date (%Y-%m-%d), Reads (a file column)."""
    define(testapp, admin_key)
    # Date and Reads: optional and free, unlike SampleId.
    free = {
        "regExp": "",
        "regexDescription": "",
        "isMandatory": False,
        "isSubmissionUnique": False,
        "isSiteUnique": False,
    }
    define(testapp, admin_key, name="Date", dateTimeFmt="%Y-%m-%d", order=20, **free)
    define(testapp, admin_key, name="Reads", isFile=True, order=30, **free)


def committed_submitter(db: Session, client: Any) -> str:
    """A submitter's API key on a site with the sample sheet defined, all committed.

    For clients whose requests commit (``live_app``): they see only committed rows.
    """
    admin_key = make_api_key(db, make_user(db, site_admin=True))
    key = make_api_key(db, make_user(db))
    db.commit()
    define_sample_sheet(client, admin_key)
    return key


def define_service_column(testapp: Any, admin_key: str, **overrides: Any) -> dict:
    """The service "QC" and the optional column "QC" it fills; returns the service."""
    service = testapp.post_json(
        "/api/v1/services", {"name": "QC"}, headers=api_headers(admin_key)
    ).json
    column = {
        "name": "QC",
        "regExp": "",
        "isMandatory": False,
        "isSubmissionUnique": False,
        "isSiteUnique": False,
        "order": 40,
        "serviceId": service["id"]["uuid"],
    }
    define(testapp, admin_key, **{**column, **overrides})
    return service


def stage(testapp: Any, key: str, record: dict, status: int = 200) -> Any:
    return testapp.post_json(
        "/api/v1/metadatasets", {"record": record}, headers=api_headers(key), status=status
    )


def upload_file(testapp: Any, key: str, name: str, content: bytes) -> dict:
    """Announce, upload to S3 exactly as answered, and confirm; return the file JSON."""
    checksum = hashlib.md5(content).hexdigest()  # noqa: S324 (DataMeta's announced checksum)
    announced = testapp.post_json(
        "/api/v1/files", {"name": name, "checksum": checksum}, headers=api_headers(key)
    ).json
    response = requests.put(
        announced["urlToUpload"], data=content, headers=announced["requestHeaders"], timeout=30
    )
    assert response.status_code == 200, response.text
    return confirm_upload(testapp, key, announced["id"]["site"]).json


def confirm_upload(testapp: Any, key: str, file_id: str, status: int = 200) -> Any:
    """Tell the server that a file's content is uploaded (PUT contentUploaded)."""
    return testapp.put_json(
        f"/api/v1/files/{file_id}",
        {"contentUploaded": True},
        headers=api_headers(key),
        status=status,
    )


# Multipart uploads: the smallest part size the server chooses (files up to 156 GiB).
PART = 16 * 1024 * 1024


def md5_hex(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()  # noqa: S324 (DataMeta's checksums are MD5)


def multipart_etag(content: bytes, part_size: int = PART) -> str:
    """The ETag S3 gives an object joined from parts: the MD5 of the parts' binary MD5s,
    "-", the number of parts."""
    parts = [content[offset : offset + part_size] for offset in range(0, len(content), part_size)]
    digests = b"".join(hashlib.md5(part).digest() for part in parts)  # noqa: S324
    return f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"  # noqa: S324


def start(testapp: Any, key: str, *, size: int, name: str = "reads.bam", **body: Any) -> Any:
    """Start a multipart upload; ``status`` other than 200 expects a refusal."""
    status = body.pop("status", 200)
    return testapp.post_json(
        "/api/v1/multipart-uploads",
        {"name": name, "size": size, **body},
        headers=api_headers(key),
        status=status,
    )


def part_urls(testapp: Any, key: str, file_id: str, parts: list[tuple[int, str]]) -> list[dict]:
    return testapp.post_json(
        f"/api/v1/multipart-uploads/{file_id}/part-urls",
        {"parts": [{"partNumber": number, "md5": md5} for number, md5 in parts]},
        headers=api_headers(key),
    ).json["parts"]


def put_part(testapp: Any, key: str, file_id: str, number: int, content: bytes) -> None:
    """Upload one part to S3 exactly as the presigned URL says."""
    (url,) = part_urls(testapp, key, file_id, [(number, md5_hex(content))])
    response = requests.put(url["url"], data=content, headers=url["requestHeaders"], timeout=60)
    assert response.status_code == 200, response.text


def complete(testapp: Any, key: str, file_id: str, status: int = 200, **body: Any) -> Any:
    return testapp.post_json(
        f"/api/v1/multipart-uploads/{file_id}/complete",
        body,
        headers=api_headers(key),
        status=status,
    )


def upload_in_parts(
    testapp: Any, key: str, content: bytes, *, name: str = "reads.bam", **body: Any
) -> str:
    """Start an upload and send every part (not completed); returns the file's uuid."""
    upload = start(testapp, key, size=len(content), name=name, **body).json
    file_id = upload["fileId"]["uuid"]
    size = upload["partSize"]
    for number in range(1, upload["partCount"] + 1):
        put_part(testapp, key, file_id, number, content[(number - 1) * size : number * size])
    return file_id


def settled_verification(client: Any, key: str, file_id: str, wait_seconds: float = 120) -> dict:
    """The file's verification once the worker has settled it (verified or failed)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        state = client.get(f"/api/v1/files/{file_id}/verification", headers=api_headers(key)).json
        if state["state"] != "verifying":
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"file {file_id} still verifying after {wait_seconds} s")
        time.sleep(0.1)
