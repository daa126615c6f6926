"""Files take multipart uploads and are verified in the background by jobs in PostgreSQL.

The whole-file MD5 of a multipart upload may be named at completion, so the
announced checksum becomes optional until then. The job queue (procrastinate)
keeps its jobs in tables of its own, made here from the schema of the installed
version (pinned in pyproject.toml; a newer version needs a migration applying its
own migration scripts).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from procrastinate.schema import SchemaManager

    op.execute(SchemaManager.get_schema())
    op.alter_column("files", "checksum", existing_type=sa.String(length=32), nullable=True)
    op.add_column("files", sa.Column("multipart_upload_id", sa.Text(), nullable=True))
    op.add_column("files", sa.Column("upload_size", sa.BigInteger(), nullable=True))
    op.add_column("files", sa.Column("part_size", sa.BigInteger(), nullable=True))
    op.add_column("files", sa.Column("verification", sa.String(length=16), nullable=True))
    op.add_column("files", sa.Column("verification_message", sa.Text(), nullable=True))
    op.add_column("files", sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_table(
        "deletedobjects",
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("multipart_upload_id", sa.Text(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("storage_key", name=op.f("pk_deletedobjects")),
    )
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
    _drop_job_queue()
    op.drop_table("deletedobjects")
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


def _drop_job_queue() -> None:
    # Everything procrastinate's schema made is named procrastinate_*; tables first
    # (with their triggers and indexes), then functions, then types.
    op.execute(
        """
        DO $$
        DECLARE item record;
        BEGIN
          FOR item IN SELECT tablename FROM pg_tables
                      WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%'
          LOOP EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename); END LOOP;
          FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                      JOIN pg_namespace n ON n.oid = p.pronamespace
                      WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
          LOOP EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', item.signature); END LOOP;
          FOR item IN SELECT t.typname FROM pg_type t
                      JOIN pg_namespace n ON n.oid = t.typnamespace
                      WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                        AND t.typtype IN ('e', 'c')
          LOOP EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname); END LOOP;
        END $$;
        """
    )
