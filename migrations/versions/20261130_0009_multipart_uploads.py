"""Files take multipart uploads and are verified in the background.

The whole-file MD5 of a multipart upload may be named at completion, so the
announced checksum becomes optional until then.

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-30 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("files", "checksum", existing_type=sa.String(length=32), nullable=True)
    op.add_column("files", sa.Column("multipart_upload_id", sa.Text(), nullable=True))
    op.add_column("files", sa.Column("upload_size", sa.BigInteger(), nullable=True))
    op.add_column("files", sa.Column("part_size", sa.BigInteger(), nullable=True))
    op.add_column("files", sa.Column("verification", sa.String(length=16), nullable=True))
    op.add_column("files", sa.Column("verification_message", sa.Text(), nullable=True))
    op.add_column("files", sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_files_uploaded_has_checksum"),
        "files",
        "NOT content_uploaded OR checksum IS NOT NULL",
    )
    op.create_check_constraint(
        op.f("ck_files_verification_state"),
        "files",
        "verification IN ('verifying', 'verified', 'failed')",
    )
    op.create_check_constraint(
        op.f("ck_files_multipart_has_sizes"),
        "files",
        "multipart_upload_id IS NULL OR (upload_size > 0 AND part_size > 0)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_files_multipart_has_sizes"), "files", type_="check")
    op.drop_constraint(op.f("ck_files_verification_state"), "files", type_="check")
    op.drop_constraint(op.f("ck_files_uploaded_has_checksum"), "files", type_="check")
    for column in (
        "content_sha256",
        "verification_message",
        "verification",
        "part_size",
        "upload_size",
        "multipart_upload_id",
    ):
        op.drop_column("files", column)
    # Files announced without a checksum cannot keep their rows under the old schema.
    op.execute("DELETE FROM files WHERE checksum IS NULL")
    op.alter_column("files", "checksum", existing_type=sa.String(length=32), nullable=False)
