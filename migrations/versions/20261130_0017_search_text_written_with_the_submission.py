"""Search texts are computed for many sets in one pass, and a submission writes them
in the same update that marks its sets submitted.

``search_texts(sets)`` is now the one definition of the text (as 0013 defined it),
computed for all the given sets by one aggregation over their values instead of a
subquery per set (three times faster at 10,000 sets); ``refresh_search_text``
applies it. A submission sets each set's submission and its text in one UPDATE:
every update of a row writes a new version of it into each index of the table (two
of them trigram GIN indexes), so a second update of the same rows for the text
doubled the cost of submitting.

Revision ID: 0017
Revises: 0014
Create Date: 2026-11-30 15:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Fields are joined by a line break: search words hold no white space, so no word
# matches across two fields. Service columns are left out (see 0013).
SEARCH_TEXTS = r"""
CREATE FUNCTION search_texts(set_ids integer[]) RETURNS TABLE (set_id integer, search_text text)
LANGUAGE sql STABLE AS $$
    SELECT s.id, lower(concat_ws(E'\n', s.site_id, v.joined))
    FROM metadatasets AS s
    LEFT JOIN (
        SELECT
            r.metadataset_id,
            string_agg(concat_ws(E'\n', r.value, f.site_id), E'\n' ORDER BY r.metadatum_id)
                AS joined
        FROM metadatumrecords AS r
        JOIN metadata AS m ON m.id = r.metadatum_id AND m.service_id IS NULL
        LEFT JOIN files AS f ON f.id = r.file_id
        WHERE r.metadataset_id = ANY(set_ids)
        GROUP BY r.metadataset_id
    ) AS v ON v.metadataset_id = s.id
    WHERE s.id = ANY(set_ids)
$$
"""

REFRESH = r"""
CREATE OR REPLACE FUNCTION refresh_search_text(set_ids integer[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE metadatasets AS s
    SET search_text = t.search_text
    FROM search_texts(set_ids) AS t
    WHERE s.id = t.set_id AND s.submission_id IS NOT NULL
$$
"""

# As 0013 left it.
OLD_REFRESH = r"""
CREATE OR REPLACE FUNCTION refresh_search_text(set_ids integer[]) RETURNS void
LANGUAGE sql AS $$
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


def upgrade() -> None:
    op.execute(SEARCH_TEXTS)
    op.execute(REFRESH)


def downgrade() -> None:
    op.execute(OLD_REFRESH)
    op.execute("DROP FUNCTION search_texts(integer[])")
