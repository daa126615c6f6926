"""Data files: announced, uploaded straight to S3, verified without reading them, downloaded.

The app never reads file content on this path: S3 checks the bytes against the
announced MD5 (the upload URL is signed with it), and the app checks the stored
object with a HEAD request. Only DataMeta 1.x clients, on sites that allow it, post
content to the app itself (``expected_upload`` checks the one-time token before any
byte is read, ``store_upload`` streams the bytes on to S3 and notes their MD5).
Files join a submission through the records that name them (``logic.submissions``).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.instrumentation import manager_of_class

from datameta.config import Settings
from datameta.db import PreparedStatement, note_written
from datameta.errors import (
    Conflict,
    ErrorItem,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from datameta.logic.ids import entity_ref, find_by_id, not_found, not_modifiable, parse_uuid
from datameta.logic.users import staged_data_owner
from datameta.models import DeletedObject, File, MetaDataSet, MetaDatumRecord, Submission, User
from datameta.models.siteids import (
    checked_site_id,
    next_number_sql,
    site_id_parameters,
    site_id_sql,
)
from datameta.security import authz
from datameta.security.tokens import generate_token, hash_token, token_matches
from datameta.storage import Storage

MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")
MAX_NAME_LENGTH = 1000
# Verification states of files uploaded in parts (logic.multipart, logic.verification).
VERIFYING = "verifying"
VERIFIED = "verified"
FAILED = "failed"


@dataclass(frozen=True)
class Announcement:
    file: File
    url: str
    headers: dict[str, str]


def name_problems(name: str) -> list[ErrorItem]:
    if not name:
        return [ErrorItem(message="File names cannot be empty.", field="name")]
    if len(name) > MAX_NAME_LENGTH or "/" in name or "\x00" in name:
        return [
            ErrorItem(
                message="File names are at most 1000 characters long and contain no '/'.",
                field="name",
            )
        ]
    return []


def checksum_problems(checksum: str) -> list[ErrorItem]:
    if MD5_HEX.match(checksum):
        return []
    return [
        ErrorItem(
            message="The checksum must be the file's MD5 as 32 hexadecimal digits.",
            field="checksum",
        )
    ]


def announce_file(
    db: Session,
    actor: User,
    *,
    name: str,
    checksum: str,
    storage: Storage,
    settings: Settings,
    app_upload_url: Callable[[uuid.UUID], str],
    direct_upload: bool = False,
) -> Announcement:
    """Record a new file and say where and how to upload its content.

    By default the answer is a presigned S3 PUT URL signed with the announced MD5,
    and the headers to send with it. On sites that take uploads through the app
    (for DataMeta 1.x clients), unless the client asks for ``direct_upload``, the
    upload goes to ``app_upload_url(file uuid)``, authorized by a one-time token.
    """
    problems = name_problems(name) + checksum_problems(checksum)
    if problems:
        raise ValidationFailed(problems)
    window = timedelta(hours=settings.files_upload_window_hours)
    now = datetime.now(UTC)
    token = None
    if settings.files_upload_via_app and not direct_upload:
        token = generate_token()
    file = _insert_file(
        db,
        actor,
        {
            "uuid": uuid.uuid4(),
            "name": name,
            "checksum": checksum.lower(),
            "storage_key": f"files/{uuid.uuid4()}",
            "user_id": actor.id,
            "group_id": actor.group_id,
            "upload_expires": now + window,
            "upload_token_hash": None if token is None else hash_token(token),
            "created": now,
        },
    )
    if token is not None:
        return Announcement(file, app_upload_url(file.uuid), {"Access-Token": token})
    presigned = storage.presigned_put(
        file.storage_key,
        content_md5_hex=file.checksum,
        expires_seconds=int(window.total_seconds()),
    )
    return Announcement(file, presigned.url, presigned.headers)


def _driver_sql(sql: str) -> str:
    """SQL with ``:name`` parameters in the driver's own ``%(name)s`` style.

    The writes of the announce and the confirm are run as the driver's SQL: Core's
    compiled-statement cache and its type processing cost more than the round trip to
    PostgreSQL, and psycopg2 handles every type of these columns itself (UUIDs through
    SQLAlchemy's registration of them).
    """
    return re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql)


# A new file with its site id in one round trip. The number is drawn once, in its own
# FROM item, and formatted in SQL; only constants of the code are formatted into the SQL.
_INSERT_FILE = _driver_sql(
    f"""
    INSERT INTO files (
        uuid, site_id, name, checksum, storage_key, user_id, group_id, upload_expires,
        upload_token_hash, content_uploaded, created
    )
    SELECT
        :uuid, {site_id_sql("drawn.number")}, :name, :checksum, :storage_key, :user_id,
        :group_id, :upload_expires, :upload_token_hash, false, :created
    FROM (SELECT {next_number_sql("files")} AS number) AS drawn
    RETURNING id, site_id
    """  # noqa: S608
)


# Every other column of a new file, as the insert leaves it: reading one needs no query.
_AS_INSERTED = {
    "content_uploaded": False,
    "filesize": None,
    "content_md5": None,
    "content_etag": None,
    "multipart_upload_id": None,
    "upload_size": None,
    "part_size": None,
    "verification": None,
    "verification_message": None,
    "content_sha256": None,
}


def _insert_file(db: Session, owner: User, values: dict[str, object]) -> File:
    """Insert a file of ``owner`` with ``values`` (every parameter of ``_INSERT_FILE``) by
    one statement; the File as stored, outside the session (see ``_loaded_file``).

    Through the ORM's unit of work the same insert took two statements (the site id
    first) and a flush, and building the File through its attribute events cost more
    than the statement.
    """
    new_id, site_id = (
        db.connection()
        .exec_driver_sql(_INSERT_FILE, {**values, **site_id_parameters(db, "files")})
        .one()
    )
    note_written(db)
    return _loaded_file(
        {
            **values,
            **_AS_INSERTED,
            "id": new_id,
            "site_id": checked_site_id(db, "files", site_id),
        },
        owner,
    )


def presigned_upload(db: Session, actor: User, file_id: str, *, storage: Storage) -> Announcement:
    """A fresh presigned S3 PUT for a staged file whose content is not verified yet."""
    file = _own_modifiable_file(db, actor, file_id)
    _refuse_multipart(file)
    remaining = (file.upload_expires - datetime.now(UTC)).total_seconds()
    if remaining <= 0:
        raise Conflict("The upload window of this file has closed; announce it again.")
    presigned = storage.presigned_put(
        file.storage_key, content_md5_hex=file.checksum, expires_seconds=int(remaining)
    )
    return Announcement(file, presigned.url, presigned.headers)


def submission_of(db: Session, file: File) -> Submission | None:
    """The submission a file belongs to (through the record that names it), if any."""
    return db.scalar(
        select(Submission)
        .join(MetaDataSet, MetaDataSet.submission_id == Submission.id)
        .join(MetaDatumRecord, MetaDatumRecord.metadataset_id == MetaDataSet.id)
        .where(MetaDatumRecord.file_id == file.id)
    )


def may_read(db: Session, actor: User, file: File) -> bool:
    """Staged files: only their owner. Submitted ones: the submission's group and site readers."""
    return _may_read(actor, file, submission_of(db, file))


def _may_read(actor: User, file: File, submission: Submission | _Membership | None) -> bool:
    if submission is None:
        return authz.can_view_staged(actor, file.user)
    return authz.can_read_submitted(actor, submission.group_id)


_files = cast(Table, File.__table__)
_records = cast(Table, MetaDatumRecord.__table__)
_sets = cast(Table, MetaDataSet.__table__)
_submissions = cast(Table, Submission.__table__)
_FILE_KEYS = tuple(column.key for column in _files.c)
_file_manager = manager_of_class(File)
_file_mapper = File.__mapper__

# A file's columns and the submission it belongs to, if any (a file is named by one
# record at most: a unique index, so one row at most), by uuid or by site id. Loading a
# File and a Submission through the ORM cost more than twice the statement itself, and
# PostgreSQL took five times as long to plan the statement's joins as to run it:
# prepared, it plans them once per connection.
_FILE_AND_SUBMISSION = select(*_files.c, _submissions.c.id, _submissions.c.group_id).select_from(
    _files.outerjoin(_records, _records.c.file_id == _files.c.id)
    .outerjoin(_sets, _sets.c.id == _records.c.metadataset_id)
    .outerjoin(_submissions, _submissions.c.id == _sets.c.submission_id)
)
_BY_UUID = PreparedStatement.of_select(
    "datameta_file_by_uuid",
    _FILE_AND_SUBMISSION.where(_files.c.uuid == bindparam("file_uuid")),
    [("file_uuid", "uuid")],
)
_BY_SITE_ID = PreparedStatement.of_select(
    "datameta_file_by_site_id",
    _FILE_AND_SUBMISSION.where(_files.c.site_id == bindparam("site_id")),
    [("site_id", "text")],
)


@dataclass(frozen=True, slots=True)
class _Membership:
    """What the rules need of the submission a file belongs to."""

    group_id: int


def _loaded_file(values: dict[str, object], owner: User) -> File:
    """A File holding ``values`` as loaded from the database, with its owner, outside any
    session: built without the ORM's attribute events, which cost more than the query."""
    file = _file_manager.new_instance()
    file.__dict__.update(values)
    file.__dict__["user"] = owner
    # Detached, not transient: adding it to a session would not insert it again.
    instance_state(file).key = _file_mapper.identity_key_from_primary_key((values["id"],))
    return file


def _visible_file(db: Session, actor: User, file_id: str) -> tuple[File, _Membership | None]:
    """A file the caller may read and the submission it belongs to, found in one statement;
    NotFound, as for an unknown id, otherwise.

    The file is the session's object if the session holds it already, else one outside
    the session: this module writes files by statements of its own, not through the
    session, and a session-held copy would cost more than the statement.
    """
    if db.autoflush:
        db.flush()  # as an ORM query would: pending links of the file count
    as_uuid = parse_uuid(file_id)
    connection = db.connection()
    if as_uuid is not None:
        found = _BY_UUID.rows(connection, {"file_uuid": as_uuid})
    else:
        found = _BY_SITE_ID.rows(connection, {"site_id": file_id})
    if not found:
        raise not_found("File", file_id)
    *columns, submission_id, group_id = found[0]
    values = dict(zip(_FILE_KEYS, columns, strict=True))
    membership = None if submission_id is None else _Membership(group_id)
    file = db.identity_map.get(_file_mapper.identity_key_from_primary_key((values["id"],)))
    if file is None:
        user_id = values["user_id"]
        owner = actor if user_id == actor.id else db.get_one(User, user_id)
        file = _loaded_file(values, owner)
    if not _may_read(actor, file, membership):
        raise not_found("File", file_id)
    return file, membership


def prepare_file_lookup(db: Session) -> None:
    """Look up files that do not exist, by uuid and by site id, so that each lookup finds
    what it builds once built (see ``security.policy.prepare_key_lookup``)."""
    connection = db.connection()
    _BY_UUID.rows(connection, {"file_uuid": uuid.UUID(int=0)})
    _BY_SITE_ID.rows(connection, {"site_id": ""})


def get_file(db: Session, actor: User, file_id: str) -> File:
    """A file the caller may read; NotFound, as for an unknown id, otherwise."""
    return _visible_file(db, actor, file_id)[0]


def _own_modifiable_file(db: Session, actor: User, file_id: str) -> File:
    file, submission = _visible_file(db, actor, file_id)
    if file.user_id != actor.id:
        raise Forbidden("Only the owner may change a file.")
    if file.content_uploaded or submission is not None:
        raise not_modifiable(file)
    return file


def _refuse_multipart(file: File) -> None:
    # Such files are completed through their multipart upload and verified by a job.
    if file.multipart_upload_id is not None or file.verification is not None:
        raise Conflict(
            [
                ErrorItem(
                    exception="MultipartUpload",
                    message="This file is uploaded in parts: complete its multipart upload; "
                    "it is verified in the background.",
                    entity=entity_ref(file),
                )
            ]
        )


def verified_md5(file: File, storage: Storage) -> tuple[str | None, int | None]:
    """(MD5 of the stored object as S3 or this server verified it, its size); None if absent."""
    info = storage.head(file.storage_key)
    if info is None:
        return None, None
    if info.md5_hex is not None:
        return info.md5_hex, info.size
    # A multipart object: trust what the server computed while the ETag is unchanged.
    if file.content_etag is not None and file.content_etag == info.etag:
        return file.content_md5, info.size
    return "", info.size


def update_file(
    db: Session,
    actor: User,
    file_id: str,
    *,
    storage: Storage,
    name: str | None = None,
    checksum: str | None = None,
    content_uploaded: bool | None = None,
) -> File:
    """Rename, re-announce the checksum, or freeze: ``content_uploaded`` checks S3 by HEAD."""
    file = _own_modifiable_file(db, actor, file_id)
    problems = (name_problems(name) if name is not None else []) + (
        checksum_problems(checksum) if checksum is not None else []
    )
    if problems:
        raise ValidationFailed(problems)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = name
    if checksum is not None:
        changes["checksum"] = checksum.lower()
    if content_uploaded:
        _refuse_multipart(file)
        md5, size = verified_md5(file, storage)
        if md5 is None:
            raise ValidationFailed(
                [
                    ErrorItem(
                        message="No data has been uploaded for this file.",
                        field="contentUploaded",
                    )
                ]
            )
        if md5 != changes.get("checksum", file.checksum):
            raise Conflict(
                [
                    ErrorItem(
                        exception="ChecksumMismatch",
                        message="The uploaded data does not match the announced checksum.",
                        field="checksum",
                        entity=entity_ref(file),
                    )
                ]
            )
        changes.update(filesize=size, content_uploaded=True, upload_token_hash=None)
    _update_file(db, file, changes)
    return file


def _update_file(db: Session, file: File, changes: dict[str, object]) -> None:
    """Write ``changes`` of ``file`` by one UPDATE, and hold them in the object as stored:
    the ORM's unit of work would cost more than the rest of the request."""
    if not changes:
        return
    db.connection().exec_driver_sql(_update_sql(frozenset(changes)), {**changes, "_id": file.id})
    note_written(db)
    if instance_state(file).session_id is None:
        # Built by _loaded_file, outside any session: no history to keep in step.
        file.__dict__.update(changes)
        return
    for attribute, value in changes.items():
        set_committed_value(file, attribute, value)


@functools.cache
def _update_sql(columns: frozenset[str]) -> str:
    """The UPDATE of ``columns`` of one file (the driver's SQL), built once for each set."""
    assignments = ", ".join(f"{_files.c[column].name} = %({column})s" for column in sorted(columns))
    return f"UPDATE files SET {assignments} WHERE id = %(_id)s"  # noqa: S608 (column names)


def doom_objects(db: Session, files: Iterable[File]) -> None:
    """Note the stored objects of files being deleted, for the worker to delete."""
    rows = [
        {"storage_key": file.storage_key, "multipart_upload_id": file.multipart_upload_id}
        for file in files
    ]
    if rows:
        db.execute(insert(DeletedObject).values(rows).on_conflict_do_nothing())


def delete_files(db: Session, actor: User, file_ids: Sequence[str]) -> list[str]:
    """Delete staged files of the caller, all or nothing; returns the storage keys to delete."""
    doomed = []
    for given in dict.fromkeys(file_ids):
        file, submission = _visible_file(db, actor, given)
        if submission is not None:
            raise not_modifiable(file)
        if file.user_id != actor.id:
            raise Forbidden("Only the owner may delete a file.")
        doomed.append(file)
    # The worker deletes the objects should the prompt delete after the commit fail.
    doom_objects(db, doomed)
    for file in doomed:
        db.delete(file)
    db.flush()
    return [file.storage_key for file in doomed]


def pending_files(db: Session, actor: User, user_id: str) -> list[File]:
    """The staged files of a user (not yet in a submission); visible to that user only."""
    owner = staged_data_owner(db, actor, user_id)
    linked = select(MetaDatumRecord.file_id).where(MetaDatumRecord.file_id.is_not(None))
    return list(
        db.scalars(
            select(File).where(File.user_id == owner.id, File.id.not_in(linked)).order_by(File.id)
        )
    )


def check_download_expiry(expires_minutes: int, settings: Settings) -> None:
    """Download URLs are valid from 1 minute up to the site's setting."""
    if expires_minutes < 1 or expires_minutes > settings.files_download_max_expiry_minutes:
        raise ValidationFailed(
            [
                ErrorItem(
                    message="expires must be between 1 and "
                    f"{settings.files_download_max_expiry_minutes} minutes.",
                    field="expires",
                )
            ]
        )


@dataclass(frozen=True)
class DownloadUrl:
    file: File
    url: str
    expires: datetime


def download_url(
    db: Session,
    actor: User,
    file_id: str,
    *,
    expires_minutes: int,
    storage: Storage,
    settings: Settings,
) -> DownloadUrl:
    """A presigned GET for a file the caller may read, valid at most as long as the setting says."""
    check_download_expiry(expires_minutes, settings)
    file = get_file(db, actor, file_id)
    if not file.content_uploaded:
        raise ValidationFailed(
            [ErrorItem(message="The file has no verified content yet.", field="id")]
        )
    presigned = storage.presigned_get(
        file.storage_key, expires_seconds=expires_minutes * 60, download_name=file.name
    )
    return DownloadUrl(file, presigned.url, presigned.expires_at)


def expected_upload(db: Session, file_uuid: str, token: str | None) -> File:
    """The file a DataMeta 1.x client may now post content for, checked before any byte is read.

    Unknown file, wrong token or closed window: NotFound (as DataMeta 1.x answers);
    content already verified: Conflict.
    """
    file = find_by_id(db, File, file_uuid)
    if (
        file is None
        or token is None
        or file.upload_token_hash is None
        or not token_matches(token, file.upload_token_hash)
        or file.upload_expires <= datetime.now(UTC)
    ):
        raise NotFound("No upload is expected for this file with this token.")
    if file.content_uploaded:
        raise Conflict("The content of this file has been verified already.")
    return file


def store_upload(file: File, stream: BinaryIO, *, storage: Storage) -> None:
    """Stream posted content on to S3 with bounded memory, noting the MD5 computed on the way."""
    info = storage.upload_stream(file.storage_key, stream)
    file.content_md5 = info.md5_hex
    file.content_etag = info.etag
    file.upload_token_hash = None  # one upload per token; a failed one keeps it (rollback)
