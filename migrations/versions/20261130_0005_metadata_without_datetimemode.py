"""Metadata definitions lose datetimemode: the date/time format alone says what a value is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIMEMODE = sa.Enum("date", "time", "datetime", name="datetimemode")


def upgrade() -> None:
    op.drop_column("metadata", "datetimemode")
    DATETIMEMODE.drop(op.get_bind())


def downgrade() -> None:
    DATETIMEMODE.create(op.get_bind())
    op.add_column("metadata", sa.Column("datetimemode", DATETIMEMODE, nullable=True))
