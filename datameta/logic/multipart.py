"""Multipart uploads of large files, straight from clients to S3 through presigned part URLs.

A client starts an upload for a file of a given size; the server creates the file,
starts the S3 upload and chooses the part size. The client asks for presigned part
URLs in batches, each signed with the part's MD5 so that S3 refuses corrupted bytes,
lists the parts S3 holds to resume, and completes (naming the whole-file MD5 then
if it did not at the start) or aborts. The app never touches the bytes: S3 knows no
whole-file MD5 of a multipart object, so a background job verifies it
(``logic.verification``) and the file is "verifying" until then.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from datameta.config import Settings
from datameta.errors import Conflict, ErrorItem, Forbidden, NotFound, ValidationFailed
from datameta.logic.files import (
    VERIFYING,
    checksum_problems,
    doom_objects,
    get_file,
    name_problems,
)
from datameta.logic.ids import entity_ref, id_condition
from datameta.models import File, User
from datameta.storage import MiB, PresignedRequest, Storage, StoredPart, multipart_etag

GiB = 1024 * MiB
TiB = 1024 * GiB
# S3's limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 parts,
# objects of at most 5 TiB.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * TiB
# Small files still get parts of this size: fewer requests, and each retry after a
# dropped connection resends at most this much.
PREFERRED_PART_SIZE = 16 * MiB
MAX_URLS_PER_BATCH = 100


def choose_part_size(size: int) -> int:
    """The part size for a file of ``size`` bytes: whole MiB, within S3's limits."""
    needed = math.ceil(size / MAX_PARTS)
    return max(PREFERRED_PART_SIZE, math.ceil(needed / MiB) * MiB)


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def expected_part_size(size: int, part_size: int, number: int) -> int:
    """How many bytes part ``number`` (from 1) of a file of ``size`` bytes holds."""
    return min(part_size, size - (number - 1) * part_size)


@dataclass(frozen=True)
class Upload:
    """A multipart upload in progress, with the parts S3 holds when they were asked for."""

    file: File
    parts: list[StoredPart] | None = None
    urls: list[PartUrl] | None = None  # signed at the start, for the first parts

    @property
    def part_count(self) -> int:
        assert self.file.upload_size is not None and self.file.part_size is not None
        return part_count(self.file.upload_size, self.file.part_size)


@dataclass(frozen=True)
class PartUrl:
    number: int
    request: PresignedRequest


def _size_problems(size: int) -> list[ErrorItem]:
    if 1 <= size <= MAX_OBJECT_SIZE:
        return []
    return [
        ErrorItem(
            message=f"The size must be between 1 byte and {MAX_OBJECT_SIZE} bytes (5 TiB).",
            field="size",
        )
    ]


def start_upload(
    db: Session,
    actor: User,
    *,
    name: str,
    size: int,
    checksum: str | None,
    storage: Storage,
    settings: Settings,
    first_parts: Sequence[tuple[int, str]] = (),
    hashed_part_size: int | None = None,
) -> Upload:
    """Announce a file and start its multipart upload; the MD5 may wait until completion.

    A client may hash its first parts before it starts, with the part size the
    server chooses (documented, so that it can be computed): ``first_parts`` are
    then signed with the upload, one request less per file. Parts hashed with
    another ``hashed_part_size`` get no URLs; the client hashes them again.
    """
    problems = (
        name_problems(name)
        + (checksum_problems(checksum) if checksum is not None else [])
        + _size_problems(size)
    )
    if first_parts and hashed_part_size is None:
        problems.append(
            ErrorItem(message="Name the part size the parts were hashed with.", field="partSize")
        )
    elif first_parts and not problems:
        assert hashed_part_size is not None
        problems += _wanted_problems(first_parts, part_count(size, hashed_part_size))
    if problems:
        raise ValidationFailed(problems)
    file = File(
        name=name,
        checksum=checksum.lower() if checksum is not None else None,
        storage_key=f"files/{uuid.uuid4()}",
        user_id=actor.id,
        group_id=actor.group_id,
        upload_expires=datetime.now(UTC) + timedelta(hours=settings.files_upload_window_hours),
        upload_size=size,
        part_size=choose_part_size(size),
    )
    file.multipart_upload_id = storage.start_multipart(file.storage_key)
    db.add(file)
    db.flush()
    if first_parts and hashed_part_size == file.part_size:
        return Upload(file, urls=_signed(file, first_parts, storage))
    return Upload(file)


def _own_upload(db: Session, actor: User, file_id: str) -> File:
    """The caller's file with a multipart upload in progress.

    Other users' uploads are not found, as unknown ids are: staged files are visible
    to their owner alone.
    """
    # One statement serves every call of an upload going well (a client asks for part
    # URLs every few parts): a file with an upload in progress is staged, never
    # submitted, so its owner sees it. Anything else takes the general path, which
    # names what is wrong.
    condition = id_condition(File, file_id)
    if condition is not None and actor.enabled:
        found = db.scalar(
            select(File).where(
                condition, File.user_id == actor.id, File.multipart_upload_id.is_not(None)
            )
        )
        if found is not None:
            return found
    file = get_file(db, actor, file_id)
    if file.user_id != actor.id:
        raise Forbidden("Only the owner may act on the upload of a file.")
    if file.multipart_upload_id is None:
        raise NotFound(
            [
                ErrorItem(
                    exception="NotFound",
                    message="This file has no multipart upload in progress.",
                    entity=entity_ref(file),
                )
            ]
        )
    return file


def _remaining_seconds(file: File) -> int:
    remaining = int((file.upload_expires - datetime.now(UTC)).total_seconds())
    if remaining <= 0:
        raise Conflict("The upload window of this file has closed; start the upload again.")
    return remaining


def get_upload(db: Session, actor: User, file_id: str, *, storage: Storage) -> Upload:
    """The upload in progress with the parts S3 already holds (to resume)."""
    file = _own_upload(db, actor, file_id)
    assert file.multipart_upload_id is not None
    parts = storage.list_parts(file.storage_key, file.multipart_upload_id)
    return Upload(file, parts or [])


def _wanted_problems(parts: Sequence[tuple[int, str]], count: int) -> list[ErrorItem]:
    """Part URLs are asked for up to MAX_URLS_PER_BATCH parts at a time, by number and MD5."""
    problems = []
    if not 1 <= len(parts) <= MAX_URLS_PER_BATCH:
        problems.append(
            ErrorItem(message=f"Ask for 1 to {MAX_URLS_PER_BATCH} parts at a time.", field="parts")
        )
    for number, md5 in parts:
        if not 1 <= number <= count:
            problems.append(
                ErrorItem(
                    message=f"Part numbers of this upload run from 1 to {count}.",
                    field="partNumber",
                )
            )
        problems.extend(
            ErrorItem(message=item.message, field="md5") for item in checksum_problems(md5)
        )
    return problems


_MD5_BASE64 = re.compile(r"[A-Za-z0-9+/]{21}[AQgw]==")  # 16 bytes: 22 digits, "=="


def wanted_parts(
    parts: Sequence[tuple[int, str]] | None,
    first_part: int | None,
    md5s: Sequence[str] | None,
) -> list[tuple[int, str]]:
    """The ``(part number, MD5 hex)`` pairs a request for part URLs names.

    Either as a list of parts (``parts``), or compactly as consecutive parts from
    ``first_part`` with their MD5s in base64 (``md5s``, as Content-MD5 carries
    them): two keys per batch to read instead of two per part. Exactly one of the
    two forms; the part numbers and MD5s are checked by ``part_urls``.
    """
    compact = first_part is not None or md5s is not None
    if parts is not None and compact:
        problem = "Name the parts either as `parts` or as `firstPart` and `md5s`, not both."
        raise ValidationFailed([ErrorItem(message=problem, field="parts")])
    if parts is not None:
        return list(parts)
    if not compact:
        problem = "Name the parts: `parts`, or `firstPart` and `md5s`."
        raise ValidationFailed([ErrorItem(message=problem, field="parts")])
    if first_part is None:
        problem = "Name the number of the first part the `md5s` are of."
        raise ValidationFailed([ErrorItem(message=problem, field="firstPart")])
    if md5s is None:
        problem = "Name the MD5s of the parts from `firstPart` on."
        raise ValidationFailed([ErrorItem(message=problem, field="md5s")])
    if not all(_MD5_BASE64.fullmatch(md5) for md5 in md5s):
        problem = "Each of `md5s` must be a part's MD5 in base64 (24 characters)."
        raise ValidationFailed([ErrorItem(message=problem, field="md5s")])
    try:
        hexes = [base64.b64decode(md5).hex() for md5 in md5s]
    except binascii.Error as error:  # unreachable after the pattern; kept as a guard
        raise ValidationFailed([ErrorItem(message=str(error), field="md5s")]) from error
    return list(zip(range(first_part, first_part + len(hexes)), hexes, strict=True))


def _compact_problems(first_part: int, count: int, part_count: int) -> list[ErrorItem]:
    """Consecutive parts must lie within the upload and number 1 to MAX_URLS_PER_BATCH."""
    problems = []
    if not 1 <= count <= MAX_URLS_PER_BATCH:
        problems.append(
            ErrorItem(message=f"Ask for 1 to {MAX_URLS_PER_BATCH} parts at a time.", field="md5s")
        )
    if not (first_part >= 1 and first_part + max(count, 1) - 1 <= part_count):
        problems.append(
            ErrorItem(
                message=f"Part numbers of this upload run from 1 to {part_count}.",
                field="firstPart",
            )
        )
    return problems


def _signed(file: File, parts: Sequence[tuple[int, str]], storage: Storage) -> list[PartUrl]:
    """Presigned PUTs of the parts, valid until the upload window closes."""
    expires = _remaining_seconds(file)
    assert file.multipart_upload_id is not None
    signed = storage.presigned_parts(
        file.storage_key,
        file.multipart_upload_id,
        [(number, md5.lower()) for number, md5 in parts],
        expires_seconds=expires,
    )
    return [PartUrl(number, request) for (number, _), request in zip(parts, signed, strict=True)]


def part_urls(
    db: Session,
    actor: User,
    file_id: str,
    parts: Sequence[tuple[int, str]],
    *,
    storage: Storage,
    consecutive: bool = False,
) -> tuple[Upload, list[PartUrl]]:
    """Presigned PUTs for ``(part number, MD5 hex)`` pairs, valid until the window closes.

    ``consecutive``: the parts were named compactly (``wanted_parts``), their MD5s
    checked already; only the first and the last number need checking.
    """
    file = _own_upload(db, actor, file_id)
    upload = Upload(file)
    if consecutive:
        first = parts[0][0] if parts else 1
        problems = _compact_problems(first, len(parts), upload.part_count)
    else:
        problems = _wanted_problems(parts, upload.part_count)
    if problems:
        raise ValidationFailed(problems)
    return upload, _signed(file, parts, storage)


def _part_problems(upload: Upload, held: list[StoredPart]) -> list[ErrorItem]:
    """Every part must be there, each of the size the server chose."""
    file = upload.file
    assert file.upload_size is not None and file.part_size is not None
    # Read once: each read of a mapped attribute goes through SQLAlchemy.
    size, part_size, count = file.upload_size, file.part_size, upload.part_count
    by_number = {part.number: part for part in held}
    missing = [n for n in range(1, count + 1) if n not in by_number]
    problems = []
    if missing:
        shown = ", ".join(str(n) for n in missing[:20]) + (", ..." if len(missing) > 20 else "")
        problems.append(
            ErrorItem(
                exception="MissingParts",
                message=f"S3 holds no part {shown} of this upload ({len(missing)} missing).",
                field="parts",
                entity=entity_ref(file),
            )
        )
    wrong = [
        part.number
        for part in held
        if part.number <= count and part.size != expected_part_size(size, part_size, part.number)
    ]
    if wrong:
        problems.append(
            ErrorItem(
                exception="WrongPartSize",
                message="These parts do not have the size the upload chose: "
                + ", ".join(str(n) for n in wrong[:20])
                + "; upload them again.",
                field="parts",
                entity=entity_ref(file),
            )
        )
    return problems


_PARTS_ETAG = re.compile(r"[0-9a-f]{32}-[1-9][0-9]{0,4}")


def _completion_problems(
    file: File, checksum: str | None, parts_etag: str | None
) -> list[ErrorItem]:
    problems = checksum_problems(checksum) if checksum is not None else []
    if checksum is not None and file.checksum is not None and checksum.lower() != file.checksum:
        problems.append(
            ErrorItem(
                message="This checksum differs from the one named when the upload started.",
                field="checksum",
            )
        )
    if parts_etag is not None and not _PARTS_ETAG.fullmatch(parts_etag.lower()):
        problems.append(
            ErrorItem(
                message="The multipart ETag must be 32 hexadecimal digits (the MD5 of the "
                "parts' binary MD5s), '-' and the number of parts.",
                field="multipartEtag",
            )
        )
    if checksum is None and file.checksum is None and parts_etag is None:
        problems.append(
            ErrorItem(
                message="Name the file's MD5 (checksum), or the multipart ETag of the parts "
                "sent (multipartEtag): neither was given.",
                field="checksum",
            )
        )
    return problems


def _parts_etag_problems(file: File, joined: list[StoredPart], parts_etag: str) -> list[ErrorItem]:
    """The client's parts must be those S3 holds: each part's ETag is its MD5 as S3
    received it (checked against the MD5 signed into its URL)."""
    held = multipart_etag([part.etag for part in joined])
    if held == parts_etag.lower():
        return []
    return [
        ErrorItem(
            exception="PartsDiffer",
            message="The parts S3 holds are not the ones named by this multipart ETag "
            f"(S3's parts make {held or 'no MD5-based ETag'}); upload the parts that "
            "differ again, or name the whole file's MD5 instead.",
            field="multipartEtag",
            entity=entity_ref(file),
        )
    ]


def complete_upload(
    db: Session,
    actor: User,
    file_id: str,
    *,
    checksum: str | None,
    parts_etag: str | None = None,
    storage: Storage,
) -> File:
    """Join the parts S3 holds into the file; it is "verifying" until a job checked it.

    The whole-file MD5 may be named here instead of at the start; named twice, the
    two must agree. Or the client names the multipart ETag of the parts it sent
    (their MD5s, each checked by S3 as the part arrived): then the parts joined are
    those the client hashed, and the worker's MD5 of the object becomes the file's
    checksum. Either way, a client reads its file once.
    """
    file = _own_upload(db, actor, file_id)
    problems = _completion_problems(file, checksum, parts_etag)
    if problems:
        raise ValidationFailed(problems)
    _remaining_seconds(file)
    upload = Upload(file)
    assert file.multipart_upload_id is not None
    held = storage.list_parts(file.storage_key, file.multipart_upload_id) or []
    problems = _part_problems(upload, held)
    if problems:
        raise Conflict(problems)
    count = upload.part_count
    joined = [part for part in held if part.number <= count]
    if parts_etag is not None and (problems := _parts_etag_problems(file, joined, parts_etag)):
        raise Conflict(problems)
    file.content_etag = storage.complete_multipart(
        file.storage_key, file.multipart_upload_id, joined
    )
    if checksum is not None:
        file.checksum = checksum.lower()
    file.filesize = file.upload_size
    file.multipart_upload_id = None
    file.verification = VERIFYING
    db.flush()
    return file


def abort_upload(db: Session, actor: User, file_id: str, *, storage: Storage) -> None:
    """Abort the upload in progress and forget the file it was announced for."""
    file = _own_upload(db, actor, file_id)
    assert file.multipart_upload_id is not None
    storage.abort_multipart(file.storage_key, file.multipart_upload_id)
    # Parts uploaded after the abort would make S3 keep the upload: the worker aborts again.
    doom_objects(db, [file])
    db.delete(file)
    db.flush()
