"""The JSON shapes of the API's entities, exactly as DataMeta 1.x clients expect them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from datameta.linting import render_value
from datameta.logic.metadata import column_rule
from datameta.models.base import HasSiteId, HasUuid


def identifier(entity: HasUuid | None) -> dict[str, str] | None:
    """``{"uuid", "site"}``; entities without a site id have no ``site`` key at all."""
    if entity is None:
        return None
    result = {"uuid": str(entity.uuid)}
    if isinstance(entity, HasSiteId):
        result["site"] = entity.site_id
    return result


def naive_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC without an offset, the form DataMeta 1.x uses for expiry times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def aware_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def group_json(group: Any) -> dict[str, Any]:
    return {"id": identifier(group), "name": group.name}


def metadatum_json(definition: Any) -> dict[str, Any]:
    return {
        "id": identifier(definition),
        "name": definition.name,
        "regexDescription": definition.short_description,
        "longDescription": definition.long_description,
        "example": definition.example,
        "regExp": definition.regexp,
        "dateTimeFmt": definition.datetimefmt,
        "isMandatory": definition.mandatory,
        "order": definition.order,
        "isFile": definition.isfile,
        "isSubmissionUnique": definition.submission_unique,
        "isSiteUnique": definition.site_unique,
        "serviceId": identifier(definition.service),
    }


def metadataset_json(
    view: Any, definitions: list[Any], *, show_service_values: bool, iso_dates: bool
) -> dict[str, Any]:
    """A metadataset as DataMeta 1.x sends it.

    ``record`` has every submitter column (null when empty) and, for readers of
    service values, the service columns of submitted sets. Dates are shown in the
    column's own format unless ``iso_dates``.
    """
    mset = view.metadataset
    submitted = mset.submission_id is not None
    shown = [
        definition
        for definition in definitions
        if definition.service_id is None or (submitted and show_service_values)
    ]
    record = {}
    for definition in shown:
        stored = view.values.get(definition.id)
        record[definition.name] = (
            stored if iso_dates else render_value(column_rule(definition), stored)
        )
    file_ids = {
        definition.name: identifier(view.files.get(definition.id))
        for definition in shown
        if definition.isfile
    }
    executions = None
    if show_service_values:
        executions = {
            definition.name: execution_json(view.executions.get(definition.service_id))
            for definition in definitions
            if definition.service_id is not None
        }
    return {
        "id": identifier(mset),
        "record": record,
        "fileIds": file_ids,
        "userId": identifier(mset.user),
        "submissionId": identifier(mset.submission),
        "serviceExecutions": executions,
    }


def execution_json(execution: Any) -> dict[str, Any] | None:
    if execution is None:
        return None
    return {
        "serviceExecutionId": identifier(execution),
        "executionTime": aware_utc(execution.execution_time),
        "serviceId": identifier(execution.service),
        "userId": identifier(execution.user),
    }


def file_json(file: Any) -> dict[str, Any]:
    return {
        "id": identifier(file),
        "name": file.name,
        "contentUploaded": file.content_uploaded,
        "checksum": file.checksum,
        "filesize": file.filesize,
        "userId": identifier(file.user),
        "expires": naive_utc(file.upload_expires),
    }


def file_upload_json(announcement: Any) -> dict[str, Any]:
    file = announcement.file
    return {
        "id": identifier(file),
        "name": file.name,
        "urlToUpload": announcement.url,
        "requestHeaders": announcement.headers,
        "userId": identifier(file.user),
        "expires": naive_utc(file.upload_expires),
    }


def service_json(service: Any) -> dict[str, Any]:
    return {
        "id": identifier(service),
        "name": service.name,
        "userIds": [identifier(user) for user in service.users],
    }
