"""Each column's values in order: a sort by a sheet column reads them from an index.

The View page sorts submitted sets by any sheet column. Without an ordered index
of the column's values, the first page of a listing that many sets match needs
every matching set's value (a hash join of the whole column) before it can pick
the first 25. With one, PostgreSQL walks the column's values in order and stops
after 25 matching sets.

Values are text of any length, and a btree entry must stay under about 2.7 kB:
the index holds the first 255 characters of each value (at most 1,020 bytes of
UTF-8), then the set. A sort by a column compares values by those characters,
then the sets, which is the index's own order: it serves every page, ties too.

It replaces the index on the column id alone, which its leading column serves
(the foreign key's checks, a column's values): one index per value, as before.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_metadatumrecords_metadatum_id_value",
        "metadatumrecords",
        ["metadatum_id", sa.text("left(value, 255)"), "metadataset_id"],
    )
    op.drop_index("ix_metadatumrecords_metadatum_id", table_name="metadatumrecords")


def downgrade() -> None:
    op.create_index("ix_metadatumrecords_metadatum_id", "metadatumrecords", ["metadatum_id"])
    op.drop_index("ix_metadatumrecords_metadatum_id_value", table_name="metadatumrecords")
