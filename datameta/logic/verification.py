"""Background verification of files uploaded in parts.

S3 knows no whole-file MD5 of an object joined from parts, so a job reads each
completed object once, computes its MD5 and SHA-256, and marks the file verified
(its content is then uploaded, as a confirmed single upload is) or failed with a
message the user sees. The reading happens outside any database transaction:
``file_to_verify`` and ``record_verification`` each take a short one.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from datameta.logic.files import FAILED, VERIFIED, VERIFYING
from datameta.models import File
from datameta.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """What a job needs to know of a file to verify, read in one short transaction."""

    file_uuid: uuid.UUID
    storage_key: str
    checksum: str | None
    size: int | None
    etag: str | None


@dataclass(frozen=True)
class Digests:
    md5: str
    sha256: str
    size: int


def file_to_verify(db: Session, file_uuid: uuid.UUID) -> Pending | None:
    """The file if it still waits for verification (not deleted, not verified meanwhile)."""
    file = db.scalar(select(File).where(File.uuid == file_uuid))
    if file is None or file.verification != VERIFYING:
        return None
    return Pending(file.uuid, file.storage_key, file.checksum, file.filesize, file.content_etag)


def digest_object(storage: Storage, key: str) -> Digests:
    """MD5 and SHA-256 of a stored object, read once as a stream (memory stays flat)."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    for chunk in storage.read_chunks(key):
        md5.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
    return Digests(md5.hexdigest(), sha256.hexdigest(), size)


def _mismatch(pending: Pending, digests: Digests) -> str | None:
    if digests.size != pending.size:
        return (
            f"The stored content has {digests.size} bytes, not the {pending.size} "
            "the upload announced. Delete the file and upload it again."
        )
    # No MD5 announced: the parts were checked by S3 and named at completion.
    if pending.checksum is not None and digests.md5 != pending.checksum:
        return (
            f"The content's MD5 is {digests.md5}, not the announced {pending.checksum}: "
            "the file changed or was corrupted on the way. Delete it and upload it again."
        )
    return None


def record_verification(db: Session, pending: Pending, digests: Digests) -> File | None:
    """Mark the file verified or failed; None when it was deleted or settled meanwhile."""
    file = db.scalar(select(File).where(File.uuid == pending.file_uuid).with_for_update())
    if file is None or file.verification != VERIFYING:
        return None
    problem = _mismatch(pending, digests)
    file.content_md5 = digests.md5
    file.content_sha256 = digests.sha256
    if problem is None:
        if file.checksum is None:
            # Completed by the parts' ETag: the object's MD5 becomes the file's checksum.
            file.checksum = digests.md5
        file.verification = VERIFIED
        file.content_uploaded = True
        file.verification_message = None
        log.info("verified %s (%s bytes, sha256 %s)", file.site_id, digests.size, digests.sha256)
    else:
        file.verification = FAILED
        file.verification_message = problem
        log.warning("verification of %s failed: %s", file.site_id, problem)
    db.flush()
    return file


def files_left_verifying(db: Session) -> list[uuid.UUID]:
    """Files still waiting for verification: their jobs may have been lost."""
    return list(db.scalars(select(File.uuid).where(File.verification == VERIFYING)))
