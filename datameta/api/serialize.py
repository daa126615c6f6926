"""The JSON shapes of the API's entities, exactly as DataMeta 1.x clients expect them."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from datameta.linting import Column, render_value
from datameta.logic.metadata import Definition
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


@dataclass(frozen=True)
class RecordColumn:
    """What a set's JSON needs of one definition, read once for many sets."""

    id: int
    name: str
    is_file: bool
    service_id: int | None
    rule: Column


def record_columns(definitions: Sequence[Definition]) -> list[RecordColumn]:
    return [RecordColumn(d.id, d.name, d.isfile, d.service_id, d.column) for d in definitions]


def metadataset_json(
    view: Any, columns: Sequence[RecordColumn], *, show_service_values: bool, iso_dates: bool
) -> dict[str, Any]:
    """A metadataset as DataMeta 1.x sends it.

    ``record`` has every submitter column (null when empty) and, for readers of
    service values, the service columns of submitted sets. Dates are shown in the
    column's own format unless ``iso_dates``.
    """
    mset = view.metadataset
    shown = _shown_columns(
        columns, submitted=mset.submission_id is not None, show_service_values=show_service_values
    )
    return {
        "id": identifier(mset),
        "record": _record(view, shown, iso_dates=iso_dates),
        "fileIds": _files(view, shown, identifier),
        "userId": identifier(view.owner),
        "submissionId": identifier(view.submission),
        "serviceExecutions": _executions(view, columns, show_service_values, execution_json),
    }


@dataclass(frozen=True)
class ListingLayout:
    """How plain rows of ``metadatasets.listing_rows`` become 1.x JSON; made once per listing."""

    named: list[tuple[str, str]]  # (column id as text, name) of every shown column
    dated: list[tuple[str, Column]]  # (name, rule) of the shown date columns, unless ISO dates
    file_names: dict[str, str]  # column id as text: name, of the shown file columns
    service_columns: list[RecordColumn] | None  # None: service values are not shown

    @property
    def column_ids(self) -> list[int]:
        return [int(key) for key, _ in self.named]

    @property
    def file_column_ids(self) -> list[int]:
        return [int(key) for key in self.file_names]


def listing_layout(
    columns: Sequence[RecordColumn], *, show_service_values: bool, iso_dates: bool
) -> ListingLayout:
    shown = _shown_columns(columns, submitted=True, show_service_values=show_service_values)
    return ListingLayout(
        named=[(str(column.id), column.name) for column in shown],
        dated=[] if iso_dates else [(c.name, c.rule) for c in shown if c.rule.datetime_format],
        file_names={str(column.id): column.name for column in shown if column.is_file},
        service_columns=(
            [column for column in columns if column.service_id is not None]
            if show_service_values
            else None
        ),
    )


def listing_json(
    row: Sequence[Any], layout: ListingLayout, executions: dict[int, Any]
) -> dict[str, Any]:
    """A submitted set from its plain listing row, exactly as ``metadataset_json`` makes it.

    ``executions``: the set's service executions by service id.
    """
    _, uuid, site, user_uuid, user_site, submission_uuid, submission_site, values, files = row
    stored = dict(zip(*values, strict=True)) if values else {}
    record = {name: stored.get(key) for key, name in layout.named}
    for name, rule in layout.dated:
        record[name] = render_value(rule, record[name])
    file_ids: dict[str, Any] = dict.fromkeys(layout.file_names.values())
    if files:
        for key, file_uuid, file_site in zip(*files, strict=True):
            file_ids[layout.file_names[key]] = {"uuid": file_uuid, "site": file_site}
    service_executions = None
    if layout.service_columns is not None:
        service_executions = {
            column.name: execution_json(executions.get(cast(int, column.service_id)))
            for column in layout.service_columns
        }
    return {
        "id": {"uuid": uuid, "site": site},
        "record": record,
        "fileIds": file_ids,
        "userId": {"uuid": user_uuid, "site": user_site},
        "submissionId": {"uuid": submission_uuid, "site": submission_site},
        "serviceExecutions": service_executions,
    }


def _record(view: Any, shown: Sequence[RecordColumn], *, iso_dates: bool) -> dict[str, Any]:
    """The set's values by column: dates as stored (ISO 8601) or in the column's format."""
    record = {}
    for column in shown:
        stored = view.values.get(column.id)
        record[column.name] = stored if iso_dates else render_value(column.rule, stored)
    return record


def _files(view: Any, shown: Sequence[RecordColumn], entry: Callable[[Any], Any]) -> dict[str, Any]:
    """What ``entry`` says of the file of each file column (given None where there is none)."""
    return {column.name: entry(view.files.get(column.id)) for column in shown if column.is_file}


def _executions(
    view: Any,
    columns: Sequence[RecordColumn],
    show_service_values: bool,
    entry: Callable[[Any], Any],
) -> dict[str, Any] | None:
    """What ``entry`` says of each service column's execution; None unless values are shown."""
    if not show_service_values:
        return None
    return {
        column.name: entry(view.executions.get(column.service_id))
        for column in columns
        if column.service_id is not None
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


def _file_fields(file: Any) -> dict[str, Any]:
    """What every answer about a file says of it."""
    return {
        "id": identifier(file),
        "name": file.name,
        "userId": identifier(file.user),
        "expires": naive_utc(file.upload_expires),
    }


def file_json(file: Any) -> dict[str, Any]:
    return {
        **_file_fields(file),
        "contentUploaded": file.content_uploaded,
        # A multipart upload may name the MD5 only at completion: empty until then.
        "checksum": file.checksum or "",
        "filesize": file.filesize,
    }


def file_upload_json(announcement: Any) -> dict[str, Any]:
    return {
        **_file_fields(announcement.file),
        "urlToUpload": announcement.url,
        "requestHeaders": announcement.headers,
    }


def multipart_upload_json(upload: Any) -> dict[str, Any]:
    """A multipart upload in progress; ``parts`` only where S3 was asked for them,
    ``partUrls`` only where the start signed the first parts."""
    file = upload.file
    answer = {
        "fileId": identifier(file),
        "name": file.name,
        "size": file.upload_size,
        "partSize": file.part_size,
        "partCount": upload.part_count,
        "expires": naive_utc(file.upload_expires),
    }
    if file.checksum is not None:
        answer["checksum"] = file.checksum
    if upload.parts is not None:
        answer["parts"] = [
            {"partNumber": part.number, "size": part.size, "etag": part.etag}
            for part in upload.parts
        ]
    if upload.urls is not None:
        answer["partUrls"] = _part_urls(upload.urls)
    return answer


def _part_urls(urls: Sequence[Any]) -> list[dict[str, Any]]:
    # The URLs of a batch share their expiry: written once, not once per part.
    expiries: dict[Any, str | None] = {}
    return [
        {
            "partNumber": url.number,
            "url": url.request.url,
            "requestHeaders": url.request.headers,
            "expires": expiries.get(url.request.expires_at)
            or expiries.setdefault(url.request.expires_at, naive_utc(url.request.expires_at)),
        }
        for url in urls
    ]


def part_urls_json(upload: Any, urls: Sequence[Any]) -> dict[str, Any]:
    return {"fileId": identifier(upload.file), "parts": _part_urls(urls)}


def verification_json(file: Any) -> dict[str, Any]:
    """Where a file's content stands; checksums and message only where known."""
    if file.verification is not None:
        state = file.verification
    else:
        state = "verified" if file.content_uploaded else "pending"
    answer: dict[str, Any] = {"fileId": identifier(file), "state": state}
    optional = {
        "checksum": file.checksum,
        "sha256": file.content_sha256,
        "filesize": file.filesize,
        "message": file.verification_message,
    }
    answer.update({key: value for key, value in optional.items() if value is not None})
    return answer


def service_json(service: Any) -> dict[str, Any]:
    return {
        "id": identifier(service),
        "name": service.name,
        "userIds": [identifier(user) for user in service.users],
    }


def _shown_columns(
    columns: Sequence[RecordColumn], *, submitted: bool, show_service_values: bool
) -> list[RecordColumn]:
    return [
        column
        for column in columns
        if column.service_id is None or (submitted and show_service_values)
    ]


def export_json(
    view: Any, columns: Sequence[RecordColumn], *, show_service_values: bool, iso_dates: bool
) -> dict[str, Any]:
    """A submitted set as exports and the View page show it: who, when, values, files.

    ``files`` is the file manifest: for each file column, the file's name, site id,
    size and MD5 (null when the set names no file there). ``serviceExecutions``
    says when each service reported (null: pending), for readers of service values.
    """
    submission, owner = view.submission, view.owner
    shown = _shown_columns(columns, submitted=True, show_service_values=show_service_values)
    return {
        "id": identifier(view.metadataset),
        "submission": {
            "id": identifier(submission),
            "label": submission.label,
            "submittedAt": aware_utc(submission.date),
        },
        "user": {"id": identifier(owner), "name": owner.fullname},
        "group": {"id": identifier(submission.group), "name": submission.group.name},
        "record": _record(view, shown, iso_dates=iso_dates),
        "files": _files(view, shown, _manifest_entry),
        "serviceExecutions": _executions(view, shown, show_service_values, _reported_at),
    }


def _reported_at(execution: Any) -> str | None:
    return None if execution is None else aware_utc(execution.execution_time)


def _manifest_entry(file: Any) -> dict[str, Any] | None:
    if file is None:
        return None
    return {"id": identifier(file), "name": file.name, "size": file.filesize, "md5": file.checksum}


FIXED_EXPORT_HEADER = (
    "Record",
    "Submission",
    "Submission label",
    "Submitted at",
    "User",
    "User name",
    "Group",
    "Group name",
)


def export_header(columns: Sequence[RecordColumn], *, show_service_values: bool) -> list[str]:
    """The header of a tabular export: fixed fields, then each column with its file manifest."""
    header = list(FIXED_EXPORT_HEADER)
    for column in _shown_columns(columns, submitted=True, show_service_values=show_service_values):
        header.append(column.name)
        if column.is_file:
            header += [f"{column.name} site id", f"{column.name} size", f"{column.name} MD5"]
    return header


NO_FILE = (None, None, None)


class TableLayout:
    """How rows of ``logic.metadatasets.export_rows`` become rows of a tabular export,
    in ``export_header``'s order: worked out once per export, then applied per row.

    A row's values come as two aligned lists, the columns' ids (as text) and the
    values, in the order of the index they are read by (by column id). A set that
    has a value for every exported column, the usual case, gets them in that very
    order: they are then only put in display order (or taken as they are, when the
    columns were defined in id order); other sets go through a look-up by id.
    """

    def __init__(self, columns: Sequence[RecordColumn], *, iso_dates: bool) -> None:
        self.keys = [str(column.id) for column in columns]
        ids = sorted(column.id for column in columns)
        self.stored_order = [str(column_id) for column_id in ids]
        self.to_display = [ids.index(column.id) for column in columns]
        self.in_display_order = self.to_display == list(range(len(columns)))
        # Renders a stored date in the column's format, where a column holds dates.
        self.renders = [
            (index, _date_renderer(column.rule))
            for index, column in enumerate(columns)
            if column.rule.datetime_format and not iso_dates
        ]
        # Last first: inserting a manifest moves the cells after it.
        self.files = [
            (index, str(column.id))
            for index, column in reversed(list(enumerate(columns)))
            if column.is_file
        ]
        # Every set of a submission shares its time: each is formatted once.
        self.submitted_at = functools.lru_cache(maxsize=1024)(aware_utc)

    def cells(self, row: Sequence[Any]) -> list[str | None]:
        """One row of the export from one row of ``export_rows`` (of the same columns)."""
        *fixed, values, files = row
        fixed[3] = self.submitted_at(fixed[3])
        if values and values[0] == self.stored_order:
            stored = values[1]
            shown = stored if self.in_display_order else [stored[i] for i in self.to_display]
        else:
            by_key = dict(zip(values[0], values[1], strict=True)) if values else {}
            shown = [by_key.get(key) for key in self.keys]
        for index, render in self.renders:
            if shown[index] is not None:
                shown[index] = render(shown[index])
        if self.files:
            linked = {key: manifest for key, *manifest in zip(*files, strict=True)} if files else {}
            for index, key in self.files:
                shown[index + 1 : index + 1] = linked.get(key, NO_FILE)
        return fixed + shown


def _date_renderer(rule: Column) -> Callable[[str], str | None]:
    # Many sets share a date: each is parsed and formatted once per export.
    return functools.lru_cache(maxsize=4096)(functools.partial(render_value, rule))


def exported_columns(
    columns: Sequence[RecordColumn], *, show_service_values: bool
) -> list[RecordColumn]:
    """The sheet columns of an export of submitted sets, in order."""
    return _shown_columns(columns, submitted=True, show_service_values=show_service_values)
