"""Each submitted metadataset keeps one search text, found by trigrams.

Search words match anywhere in a set's site id, its values and the site ids of
its files (as well as in the names and labels of its user, group and submission,
which the listing matches in their own small tables). Matching each word against
every value of every set read all values (twenty rows per set) when a word
matched nearly everything; one lower-cased text per set, with a GIN trigram
index, makes each word one condition on one row per set.

The text leaves out the values (and file site ids) of service columns: those only
readers of service values may find, and the listing matches them separately.
Nor does it hold names or labels, which can change: renaming a group must not
rewrite the text of every set it ever submitted. Staged sets have none (NULL):
they are never listed among submitted ones.

``refresh_search_text(ids)`` is the one definition of the text. The submission
calls it for the sets it submits (once their files are linked); triggers call it
in the same transaction as any later change the text depends on, whoever makes
it (the app, a script, psql): a value or file link changed or deleted, a column
becoming or ceasing to be a service's. Values inserted into submitted sets are
service reports, which the text leaves out, so inserts (and the bulk COPY of
staging) fire no trigger.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fields are joined by a line break: search words hold no white space, so no word
# matches across two fields.
REFRESH = r"""
CREATE FUNCTION refresh_search_text(set_ids integer[]) RETURNS void LANGUAGE sql AS $$
    UPDATE metadatasets AS s
    SET search_text = lower(concat_ws(E'\n',
        s.site_id,
        (
            SELECT string_agg(concat_ws(E'\n', r.value, f.site_id), E'\n' ORDER BY r.metadatum_id)
            FROM metadatumrecords AS r
            JOIN metadata AS m ON m.id = r.metadatum_id AND m.service_id IS NULL
            LEFT JOIN files AS f ON f.id = r.file_id
            WHERE r.metadataset_id = s.id
        )
    ))
    WHERE s.id = ANY(set_ids) AND s.submission_id IS NOT NULL
$$
"""

# A column that becomes (or ceases to be) a service's leaves (or joins) the text.
SERVICE_COLUMN_TRIGGER = """
CREATE FUNCTION search_text_of_metadata() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM refresh_search_text(ARRAY(
        SELECT metadataset_id FROM metadatumrecords WHERE metadatum_id = NEW.id
    ));
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.add_column("metadatasets", sa.Column("search_text", sa.Text(), nullable=True))
    op.execute(REFRESH)
    op.execute(SERVICE_COLUMN_TRIGGER)
    op.execute(
        "CREATE TRIGGER metadata_search_text AFTER UPDATE OF service_id ON metadata "
        "FOR EACH ROW WHEN (OLD.service_id IS DISTINCT FROM NEW.service_id) "
        "EXECUTE FUNCTION search_text_of_metadata()"
    )
    op.execute(
        """
        CREATE FUNCTION search_text_of_values() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM refresh_search_text(ARRAY(SELECT DISTINCT metadataset_id FROM changed));
            RETURN NULL;
        END $$
        """
    )
    for event, table in (("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER metadatumrecords_{event.lower()}_search_text AFTER {event} "
            f"ON metadatumrecords REFERENCING {table} TABLE AS changed "
            "FOR EACH STATEMENT EXECUTE FUNCTION search_text_of_values()"
        )
    op.execute(
        "SELECT refresh_search_text(ARRAY(SELECT id FROM metadatasets "
        "WHERE submission_id IS NOT NULL))"
    )
    op.create_index(
        "ix_metadatasets_search_text_trgm",
        "metadatasets",
        ["search_text"],
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )
    # Search words find the sets of the users whose names they match.
    op.create_index("ix_metadatasets_user_id", "metadatasets", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_metadatasets_user_id", table_name="metadatasets")
    op.drop_index("ix_metadatasets_search_text_trgm", table_name="metadatasets")
    for event in ("update", "delete"):
        op.execute(f"DROP TRIGGER metadatumrecords_{event}_search_text ON metadatumrecords")
    op.execute("DROP FUNCTION search_text_of_values()")
    op.execute("DROP TRIGGER metadata_search_text ON metadata")
    op.execute("DROP FUNCTION search_text_of_metadata()")
    op.execute("DROP FUNCTION refresh_search_text(integer[])")
    op.drop_column("metadatasets", "search_text")
