"""Files remember the MD5 and ETag the server verified of their stored object.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:22:54.699147
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("files", sa.Column("content_md5", sa.String(length=32), nullable=True))
    op.add_column("files", sa.Column("content_etag", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("files", "content_etag")
    op.drop_column("files", "content_md5")
