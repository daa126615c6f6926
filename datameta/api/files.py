"""/files: announcing, confirming, reading, downloading and deleting data files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config
from sqlalchemy.orm import Session

from datameta.api.acting import act, act_on
from datameta.api.express import ExpressCall
from datameta.api.serialize import (
    aware_utc,
    file_json,
    file_upload_json,
    identifier,
    verification_json,
)
from datameta.api.streaming import uploaded_file
from datameta.config import Settings
from datameta.logic import files
from datameta.models import User
from datameta.storage import Storage, delete_after_commit
from datameta.telemetry.metrics import count_uploaded_bytes, note_uploaded_bytes


def announcement_json(
    db: Session,
    actor: User,
    body: dict[str, Any],
    *,
    storage: Storage,
    settings: Settings,
    app_upload_url: Callable[[uuid.UUID], str],
    direct_upload: bool,
) -> dict[str, Any]:
    announcement = files.announce_file(
        db,
        actor,
        name=body["name"],
        checksum=body["checksum"],
        storage=storage,
        settings=settings,
        app_upload_url=app_upload_url,
        direct_upload=direct_upload,
    )
    return file_upload_json(announcement)


@view_config(route_name="api_files", request_method="POST", renderer="json", openapi=True)
def announce_file(request: Request) -> dict[str, Any]:
    return announcement_json(
        request.dbsession,
        request.user,
        request.openapi_validated.body,
        storage=request.storage,
        settings=request.settings,
        # The URL follows the Host the client used, as DataMeta 1.x clients expect.
        app_upload_url=lambda file_uuid: request.route_url("api_upload", id=str(file_uuid)),
        direct_upload=request.openapi_validated.parameters.query.get("directUpload", False),
    )


def express_announcement(call: ExpressCall) -> dict[str, Any]:
    """``announce_file`` in the express lane (no query: no ``directUpload``)."""
    return announcement_json(
        call.db,
        call.user,
        call.body,
        storage=call.registry["storage"],
        settings=call.settings,
        app_upload_url=lambda file_uuid: call.route_url("api_upload", id=str(file_uuid)),
        direct_upload=False,
    )


@view_config(route_name="api_file", request_method="GET", renderer="json", openapi=True)
def get_file(request: Request) -> dict[str, Any]:
    return file_json(act_on(request, files.get_file))


def updated_file_json(
    db: Session,
    actor: User,
    file_id: str,
    body: dict[str, Any],
    *,
    storage: Storage,
    count_uploaded_bytes: Callable[[int], None],
) -> dict[str, Any]:
    file = files.update_file(
        db,
        actor,
        file_id,
        storage=storage,
        name=body.get("name"),
        checksum=body.get("checksum"),
        content_uploaded=body.get("contentUploaded"),
    )
    if body.get("contentUploaded") and file.filesize is not None:
        count_uploaded_bytes(file.filesize)
    return file_json(file)


@view_config(route_name="api_file", request_method="PUT", renderer="json", openapi=True)
def update_file(request: Request) -> dict[str, Any]:
    return updated_file_json(
        request.dbsession,
        request.user,
        request.matchdict["id"],
        request.openapi_validated.body,
        storage=request.storage,
        count_uploaded_bytes=lambda size: count_uploaded_bytes(request, size),
    )


def express_file_update(call: ExpressCall) -> dict[str, Any]:
    """``update_file`` in the express lane."""
    return updated_file_json(
        call.db,
        call.user,
        call.params["id"],
        call.body,
        storage=call.registry["storage"],
        count_uploaded_bytes=lambda size: call.after_commit(lambda: note_uploaded_bytes(size)),
    )


@view_config(route_name="api_file", request_method="DELETE", openapi=True)
def delete_file(request: Request) -> HTTPNoContent:
    keys = act(request, files.delete_files, [request.matchdict["id"]])
    delete_after_commit(request, keys)
    return HTTPNoContent()


@view_config(route_name="api_delete_files", request_method="POST", openapi=True)
def delete_files(request: Request) -> HTTPNoContent:
    ids = request.openapi_validated.body["fileIds"]
    delete_after_commit(request, act(request, files.delete_files, ids))
    return HTTPNoContent()


@view_config(route_name="api_file_upload_url", request_method="POST", renderer="json", openapi=True)
def renew_upload_url(request: Request) -> dict[str, Any]:
    announcement = act_on(request, files.presigned_upload, storage=request.storage)
    return file_upload_json(announcement)


@view_config(route_name="api_pending_files", request_method="GET", renderer="json", openapi=True)
def list_pending_files(request: Request) -> list[dict[str, Any]]:
    pending = act_on(request, files.pending_files)
    return [file_json(file) for file in pending]


@view_config(route_name="api_file_url", request_method="GET", openapi=True)
def get_download_url(request: Request) -> Response:
    query = request.openapi_validated.parameters.query
    url = act_on(
        request,
        files.download_url,
        expires_minutes=query.get("expires", 1),
        storage=request.storage,
        settings=request.settings,
    )
    body = {
        "fileId": identifier(url.file),
        "fileUrl": url.url,
        "expires": aware_utc(url.expires),
        "checksum": url.file.checksum,
    }
    response = Response(json=body, content_type="application/json", charset=None)
    if query.get("redirect", False):
        response.status = 307
        response.location = url.url
    return response


# Not validated against the spec: that would read the whole body into memory. No CSRF
# check: the one-time Access-Token, not a cookie, authorizes it.
@view_config(
    route_name="api_upload",
    request_method=("POST", "PUT"),
    permission=NO_PERMISSION_REQUIRED,
    require_csrf=False,
)
def upload_file_content(request: Request) -> HTTPNoContent:
    """Content from a DataMeta 1.x client: multipart field ``file`` (POST) or the raw body (PUT)."""
    file = files.expected_upload(
        request.dbsession, request.matchdict["id"], request.headers.get("Access-Token")
    )
    stream = uploaded_file(request) if request.method == "POST" else request.body_file
    files.store_upload(file, stream, storage=request.storage)
    return HTTPNoContent()


@view_config(
    route_name="api_file_verification", request_method="GET", renderer="json", openapi=True
)
def get_file_verification(request: Request) -> dict[str, Any]:
    return verification_json(act_on(request, files.get_file))
