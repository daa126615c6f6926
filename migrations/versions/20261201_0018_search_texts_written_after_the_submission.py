"""Search texts are written by the worker shortly after a submission, not by it.

Writing each set's search text in the submission's own UPDATE (0017) made the two
trigram GIN indexes and the aggregation of every value the larger part of
submitting 10,000 sets. A submission now sets the sets' submission only; a job
(``logic.search_texts``) writes the texts of submitted sets that have none, in
short batches, soon after the submission commits.

Until then a search must still find those sets: ``unwritten_search_texts()`` is
what their texts will be, computed from their values as ``search_texts`` does. The
listing computes it once per statement, and it is cheap when every text is written:
the partial index below holds only the submitted sets whose text is NULL, so finding
them (for the listing and for the job) reads no other row.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNWRITTEN = r"""
CREATE FUNCTION unwritten_search_texts() RETURNS TABLE (set_id integer, search_text text)
LANGUAGE sql STABLE AS $$
    SELECT t.set_id, t.search_text
    FROM search_texts(ARRAY(
        SELECT id FROM metadatasets WHERE search_text IS NULL AND submission_id IS NOT NULL
    )) AS t
$$
"""


def upgrade() -> None:
    op.create_index(
        "ix_metadatasets_search_text_unwritten",
        "metadatasets",
        ["id"],
        postgresql_where=sa.text("search_text IS NULL AND submission_id IS NOT NULL"),
    )
    op.execute(UNWRITTEN)


def downgrade() -> None:
    # Before this revision every submitted set had its text: write those left unwritten.
    op.execute(
        "SELECT refresh_search_text(ARRAY(SELECT id FROM metadatasets "
        "WHERE search_text IS NULL AND submission_id IS NOT NULL))"
    )
    op.execute("DROP FUNCTION unwritten_search_texts()")
    op.drop_index("ix_metadatasets_search_text_unwritten", table_name="metadatasets")
