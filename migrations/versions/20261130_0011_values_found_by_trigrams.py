"""Values and set ids are found by any part of them: trigram indexes.

Searching submitted data matches words anywhere in a value, case-insensitively
(ILIKE '%word%'). A GIN index of trigrams (pg_trgm, a trusted extension that the
database's owner may create) answers that from the index instead of reading
every value.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_metadatumrecords_value_trgm",
        "metadatumrecords",
        ["value"],
        postgresql_using="gin",
        postgresql_ops={"value": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_metadatasets_site_id_trgm",
        "metadatasets",
        ["site_id"],
        postgresql_using="gin",
        postgresql_ops={"site_id": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_metadatasets_site_id_trgm", table_name="metadatasets")
    op.drop_index("ix_metadatumrecords_value_trgm", table_name="metadatumrecords")
    # The extension stays: other objects of the database may use it by now.
