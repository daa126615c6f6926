"""Staged and submitted data: metadatasets (sheet rows), their values, files, submissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .accounts import Group, User
from .base import Base, HasSiteId, created_column
from .metadata import MetaDatum, ServiceExecution

# Characters of a value in the index that sorting by a column reads (migration 0014):
# at most 4 bytes each in UTF-8, well within a btree entry's limit.
SORT_PREFIX = 255


class Submission(HasSiteId, Base):
    """The all-or-nothing commit of staged metadatasets and files."""

    __tablename__ = "submissions"
    site_id_entity = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[datetime] = created_column()
    label: Mapped[str | None] = mapped_column(String(200))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)

    group: Mapped[Group] = relationship()
    metadatasets: Mapped[list[MetaDataSet]] = relationship(
        back_populates="submission", order_by="MetaDataSet.id"
    )


class MetaDataSet(HasSiteId, Base):
    """One row of a sample sheet: staged while submission_id is null, then immutable."""

    __tablename__ = "metadatasets"
    site_id_entity = "metadatasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The owner's group when the set was created; the submission's group decides visibility.
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    created: Mapped[datetime] = created_column()
    # What search words match, lower-cased: site ids, names, label, the values of
    # submitter columns. Kept by the database (migration 0013); NULL while staged, and
    # after a submission until the worker writes it (``logic.search_texts``).
    # Deferred: listings never need it in Python.
    search_text: Mapped[str | None] = mapped_column(Text, deferred=True)

    user: Mapped[User] = relationship()
    submission: Mapped[Submission | None] = relationship(back_populates="metadatasets")
    records: Mapped[list[MetaDatumRecord]] = relationship(
        back_populates="metadataset", cascade="all, delete-orphan", passive_deletes=True
    )
    service_executions: Mapped[list[ServiceExecution]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        # The staged sets of one user are listed often; submitted ones are found by submission.
        Index(
            "ix_metadatasets_user_id_staged", "user_id", postgresql_where="submission_id IS NULL"
        ),
        # Search words find the sets of the users whose names they match.
        Index("ix_metadatasets_user_id", "user_id"),
        # Search words match anywhere in a site id too.
        Index(
            "ix_metadatasets_site_id_trgm",
            "site_id",
            postgresql_using="gin",
            postgresql_ops={"site_id": "gin_trgm_ops"},
        ),
        Index(
            "ix_metadatasets_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # Submitted sets whose search text the worker has yet to write (migration 0018).
        Index(
            "ix_metadatasets_search_text_unwritten",
            "id",
            postgresql_where="search_text IS NULL AND submission_id IS NOT NULL",
        ),
    )


class File(HasSiteId, Base):
    """A data file: announced, uploaded to storage, verified, then linked by a submission."""

    __tablename__ = "files"
    site_id_entity = "files"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    # Object key in the bucket; never derived from the user's file name.
    storage_key: Mapped[str] = mapped_column(Text, unique=True)
    # The MD5 the client announced, as 32 lower-case hex digits. A multipart upload
    # may name it only at completion (clients hash while they upload): NULL until then.
    checksum: Mapped[str | None] = mapped_column(String(32))
    filesize: Mapped[int | None] = mapped_column(BigInteger)
    content_uploaded: Mapped[bool] = mapped_column(default=False, server_default="false")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    upload_expires: Mapped[datetime]
    # SHA-256 of the one-time token that authorizes an upload through the app.
    upload_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # What the server itself verified of the stored object: its MD5 (computed while
    # streaming it to S3) and the object's ETag then. A multipart ETag is no MD5, so
    # these let a later check trust the object while its ETag is unchanged.
    content_md5: Mapped[str | None] = mapped_column(String(32))
    content_etag: Mapped[str | None] = mapped_column(Text)
    # A multipart upload in progress: S3's id of it, the size the client announced and
    # the part size the server chose. The id is cleared when the upload completes.
    multipart_upload_id: Mapped[str | None] = mapped_column(Text)
    upload_size: Mapped[int | None] = mapped_column(BigInteger)
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    # Background verification of a completed multipart object (S3 knows no whole-file
    # MD5 of it): "verifying", then "verified" or "failed" with a message for the user.
    verification: Mapped[str | None] = mapped_column(String(16))
    verification_message: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = created_column()

    user: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("name <> ''", name="name_not_empty"),
        CheckConstraint("checksum ~ '^[0-9a-f]{32}$'", name="checksum_is_md5_hex"),
        CheckConstraint("filesize IS NULL OR filesize >= 0", name="filesize_not_negative"),
        CheckConstraint("NOT content_uploaded OR filesize IS NOT NULL", name="uploaded_has_size"),
        CheckConstraint(
            "NOT content_uploaded OR checksum IS NOT NULL", name="uploaded_has_checksum"
        ),
        CheckConstraint(
            "verification IN ('verifying', 'verified', 'failed')", name="verification_state"
        ),
        CheckConstraint(
            "multipart_upload_id IS NULL OR (upload_size > 0 AND part_size > 0)",
            name="multipart_has_sizes",
        ),
        Index("ix_files_user_id", "user_id"),
    )


class DeletedObject(Base):
    """A stored object whose file was deleted: the worker deletes it from storage.

    Written in the transaction that deletes the file, so that no object outlives
    its record unnoticed, even when the prompt delete after the commit fails.
    """

    __tablename__ = "deletedobjects"

    storage_key: Mapped[str] = mapped_column(Text, primary_key=True)
    # A multipart upload still open for the object: aborted rather than deleted.
    multipart_upload_id: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()


class MetaDatumRecord(Base):
    """One cell: the text value of one metadatum in one metadataset."""

    __tablename__ = "metadatumrecords"

    # The pair is the key: no surrogate id, so bulk loads maintain one index less.
    metadataset_id: Mapped[int] = mapped_column(
        ForeignKey("metadatasets.id", ondelete="CASCADE"), primary_key=True
    )
    metadatum_id: Mapped[int] = mapped_column(ForeignKey("metadata.id"), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    # Set when the set is submitted: the file this value names. A file belongs to one record.
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))

    metadataset: Mapped[MetaDataSet] = relationship(back_populates="records")
    metadatum: Mapped[MetaDatum] = relationship()
    file: Mapped[File | None] = relationship()

    __table_args__ = (
        # Only the few records that name a file are indexed, not the many NULLs.
        Index(
            "uq_metadatumrecords_file_id",
            "file_id",
            unique=True,
            postgresql_where="file_id IS NOT NULL",
        ),
        # A column's values in order, for sorting by a column (logic.listing.ordered):
        # the first SORT_PREFIX characters, which keep an entry within a btree's
        # limit, then the set, the sort's tie-breaker.
        Index(
            "ix_metadatumrecords_metadatum_id_value",
            "metadatum_id",
            text(f"left(value, {SORT_PREFIX})"),
            "metadataset_id",
        ),
        # Search words match anywhere in a value (ILIKE '%word%'): trigrams find them.
        Index(
            "ix_metadatumrecords_value_trgm",
            "value",
            postgresql_using="gin",
            postgresql_ops={"value": "gin_trgm_ops"},
        ),
    )
