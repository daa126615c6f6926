"""Metadatum records are keyed by (metadataset, metadatum); only file links are indexed.

Bulk staging writes tens of thousands of records at once: dropping the
surrogate id (a sequence call and an index per row) and indexing only the
records that name a file make that markedly cheaper.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("pk_metadatumrecords", "metadatumrecords", type_="primary")
    op.drop_column("metadatumrecords", "id")
    op.drop_constraint("uq_metadatumrecords_metadataset_id", "metadatumrecords", type_="unique")
    op.create_primary_key(
        "pk_metadatumrecords", "metadatumrecords", ["metadataset_id", "metadatum_id"]
    )
    op.drop_constraint("uq_metadatumrecords_file_id", "metadatumrecords", type_="unique")
    op.create_index(
        "uq_metadatumrecords_file_id",
        "metadatumrecords",
        ["file_id"],
        unique=True,
        postgresql_where="file_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("uq_metadatumrecords_file_id", table_name="metadatumrecords")
    op.create_unique_constraint("uq_metadatumrecords_file_id", "metadatumrecords", ["file_id"])
    op.drop_constraint("pk_metadatumrecords", "metadatumrecords", type_="primary")
    op.create_unique_constraint(
        "uq_metadatumrecords_metadataset_id", "metadatumrecords", ["metadataset_id", "metadatum_id"]
    )
    op.execute("ALTER TABLE metadatumrecords ADD COLUMN id SERIAL")
    op.create_primary_key("pk_metadatumrecords", "metadatumrecords", ["id"])
