"""The default welcome mail says how an expired link is renewed: by a button on its page.

Opening an expired link no longer mails a fresh one by itself (link scanners in
mail systems open links), so the sentence that said so is replaced wherever the
welcome text still carries it; the rest of an admin's edited text stays as it is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LINE = "If the link has expired, opening it sends you a fresh one."
NEW_LINE = "If the link has expired, open it anyway: a button there mails you a fresh one."


def _replace_line(old: str, new: str) -> None:
    op.execute(
        sa.text(
            "UPDATE appsettings SET str_value = replace(str_value, :old, :new) "
            "WHERE key = 'template_welcome_token' AND str_value LIKE '%' || :old || '%'"
        ).bindparams(old=old, new=new)
    )


def upgrade() -> None:
    _replace_line(OLD_LINE, NEW_LINE)


def downgrade() -> None:
    _replace_line(NEW_LINE, OLD_LINE)
