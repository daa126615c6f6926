"""Default application settings: mail texts, page texts, password and lockout policy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FORGOT = """Dear {fullname},

someone asked to reset the password of your DataMeta account. To choose a new
password, open this link within {expiry_minutes} minutes:

{token_url}

If you did not ask for this, ignore this mail: your password stays as it is.
"""

WELCOME = """Dear {fullname},

your registration was confirmed. To choose your password, open this link within
{expiry_minutes} minutes:

{token_url}

If the link has expired, opening it sends you a fresh one.
"""

REJECT = """Dear {fullname},

we are sorry: your registration request was not accepted.
"""

REG_NOTIFY = """A new registration request arrived:

Name:  {req_fullname}
Email: {req_email}
Group: {req_group}

Answer it here: {req_url}
"""

# (key, type, value)
DEFAULTS = [
    ("subject_forgot_token", "string", "Your DataMeta password reset"),
    ("template_forgot_token", "string", FORGOT),
    ("subject_welcome_token", "string", "Your registration was confirmed"),
    ("template_welcome_token", "string", WELCOME),
    ("subject_reject", "string", "Your registration request was rejected"),
    ("template_reject", "string", REJECT),
    ("subject_reg_notify", "string", "New registration request"),
    ("template_reg_notify", "string", REG_NOTIFY),
    ("renderer_logo_html", "string", "DataMeta"),
    ("renderer_legal_notice", "string", ""),
    ("renderer_page_title", "string", "DataMeta"),
    ("user_agreement", "string", ""),
    ("registration_show_groups", "bool", True),
    ("security_max_failed_login_attempts", "int", 5),
    ("security_lockout_window_minutes", "int", 60),
    ("security_lockout_duration_minutes", "int", 15),
    ("security_password_token_expiry_minutes", "int", 10),
    ("security_password_minimum_length", "int", 10),
    ("security_password_minimum_uppercase_characters", "int", 1),
    ("security_password_minimum_lowercase_characters", "int", 1),
    ("security_password_minimum_digits", "int", 1),
    ("security_password_minimum_punctuation_characters", "int", 1),
]

VALUE_COLUMN = {"string": "str_value", "int": "int_value", "bool": "bool_value"}


def upgrade() -> None:
    rows = [
        {
            "key": key,
            "value_type": value_type,
            "str_value": None,
            "int_value": None,
            "bool_value": None,
            VALUE_COLUMN[value_type]: value,
        }
        for key, value_type, value in DEFAULTS
    ]
    for row in rows:
        op.execute(
            sa.text(
                "INSERT INTO appsettings (key, value_type, str_value, int_value, bool_value) "
                "VALUES (:key, CAST(:value_type AS settingtype), :str_value, :int_value, "
                ":bool_value) ON CONFLICT (key) DO NOTHING"
            ).bindparams(**row)
        )


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM appsettings WHERE key IN :keys").bindparams(
            sa.bindparam("keys", [key for key, _, _ in DEFAULTS], expanding=True)
        )
    )
