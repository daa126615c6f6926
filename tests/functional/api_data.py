"""Shared setup for API tests of definitions, staging, files and submissions."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from tests.helpers import api_headers

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


def define_sample_sheet(testapp: Any, admin_key: str) -> None:
    """SampleId (site-unique, S+digits), Date (%Y-%m-%d), Reads (a file column)."""
    define(testapp, admin_key)
    define(
        testapp,
        admin_key,
        name="Date",
        regExp="",
        regexDescription="",
        dateTimeFmt="%Y-%m-%d",
        isMandatory=False,
        isSubmissionUnique=False,
        isSiteUnique=False,
        order=20,
    )
    define(
        testapp,
        admin_key,
        name="Reads",
        regExp="",
        regexDescription="",
        isFile=True,
        isMandatory=False,
        isSubmissionUnique=False,
        isSiteUnique=False,
        order=30,
    )


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
    return testapp.put_json(
        f"/api/v1/files/{announced['id']['site']}",
        {"contentUploaded": True},
        headers=api_headers(key),
    ).json
