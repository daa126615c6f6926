"""A version number of the metadata definitions, bumped by any change to them.

App processes keep the definitions in memory and reload them only when this number
differs from the one they loaded. A trigger bumps it in the same transaction as any
insert, update or delete of ``metadata``, whoever makes it (the app, a script, psql).
The number comes from a sequence, so it is never reused, not even by a change that
was rolled back: a process that saw an uncommitted version can never mistake it for
a later committed one.

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE metadata_version_seq")
    op.create_table(
        "metadata_version",
        sa.Column("id", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadata_version")),
        sa.CheckConstraint("id", name=op.f("ck_metadata_version_one_row")),
    )
    op.execute(
        "INSERT INTO metadata_version (id, version) VALUES (true, nextval('metadata_version_seq'))"
    )
    op.execute(
        """
        CREATE FUNCTION bump_metadata_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE metadata_version SET version = nextval('metadata_version_seq');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER metadata_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON metadata FOR EACH STATEMENT EXECUTE FUNCTION bump_metadata_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER metadata_changed ON metadata")
    op.execute("DROP FUNCTION bump_metadata_version()")
    op.drop_table("metadata_version")
    op.execute("DROP SEQUENCE metadata_version_seq")
