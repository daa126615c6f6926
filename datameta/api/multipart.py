"""/multipart-uploads: large files in parts, straight from the client to S3."""

from __future__ import annotations

from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config

from datameta.api.serialize import (
    file_json,
    multipart_upload_json,
    part_urls_json,
)
from datameta.jobs import VERIFY_FILE, defer_with_request
from datameta.logic import multipart


@view_config(
    route_name="api_multipart_uploads", request_method="POST", renderer="json", openapi=True
)
def start_upload(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    listed, md5s = body.get("parts"), body.get("md5s")
    first_parts: list[tuple[int, str]] = []
    if listed is not None or md5s is not None:
        first_parts = multipart.wanted_parts(
            None if listed is None else [(part["partNumber"], part["md5"]) for part in listed],
            None if md5s is None else 1,
            md5s,
        )
    upload = multipart.start_upload(
        request.dbsession,
        request.user,
        name=body["name"],
        size=body["size"],
        checksum=body.get("checksum"),
        storage=request.storage,
        settings=request.settings,
        first_parts=first_parts,
        hashed_part_size=body.get("partSize"),
    )
    return multipart_upload_json(upload)


@view_config(route_name="api_multipart_upload", request_method="GET", renderer="json", openapi=True)
def get_upload(request: Request) -> dict[str, Any]:
    upload = multipart.get_upload(
        request.dbsession, request.user, request.matchdict["id"], storage=request.storage
    )
    return multipart_upload_json(upload)


@view_config(
    route_name="api_multipart_part_urls", request_method="POST", renderer="json", openapi=True
)
def part_urls(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body
    listed = body.get("parts")
    wanted = multipart.wanted_parts(
        None if listed is None else [(part["partNumber"], part["md5"]) for part in listed],
        body.get("firstPart"),
        body.get("md5s"),
    )
    upload, urls = multipart.part_urls(
        request.dbsession,
        request.user,
        request.matchdict["id"],
        wanted,
        storage=request.storage,
        consecutive=listed is None,
    )
    return part_urls_json(upload, urls)


@view_config(
    route_name="api_multipart_complete", request_method="POST", renderer="json", openapi=True
)
def complete_upload(request: Request) -> dict[str, Any]:
    body = request.openapi_validated.body or {}
    file = multipart.complete_upload(
        request.dbsession,
        request.user,
        request.matchdict["id"],
        checksum=body.get("checksum"),
        parts_etag=body.get("multipartEtag"),
        storage=request.storage,
    )
    defer_with_request(request, VERIFY_FILE, lock=str(file.uuid), file_uuid=str(file.uuid))
    return file_json(file)


@view_config(route_name="api_multipart_upload", request_method="DELETE", openapi=True)
def abort_upload(request: Request) -> HTTPNoContent:
    multipart.abort_upload(
        request.dbsession, request.user, request.matchdict["id"], storage=request.storage
    )
    return HTTPNoContent()
