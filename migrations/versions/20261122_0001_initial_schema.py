"""Initial schema: accounts, metadata definitions, staging and submissions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:06:32.112334
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One sequence per entity with site ids: numbers are handed out once, never reused.
SITE_ID_SEQUENCES = [
    f"siteid_{entity}_seq"
    for entity in ("users", "groups", "submissions", "metadatasets", "files", "services")
]


def upgrade() -> None:
    for sequence in SITE_ID_SEQUENCES:
        op.execute(sa.schema.CreateSequence(sa.Sequence(sequence)))
    op.create_table(
        "appsettings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column(
            "value_type",
            sa.Enum("int", "float", "string", "bool", "date", "time", name="settingtype"),
            nullable=False,
        ),
        sa.Column("int_value", sa.Integer(), nullable=True),
        sa.Column("float_value", sa.Double(), nullable=True),
        sa.Column("str_value", sa.Text(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("date_value", sa.Date(), nullable=True),
        sa.Column("time_value", sa.Time(), nullable=True),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "(value_type = 'int' AND int_value IS NOT NULL AND float_value IS NULL AND str_value IS NULL AND bool_value IS NULL AND date_value IS NULL AND time_value IS NULL) OR (value_type = 'float' AND float_value IS NOT NULL AND int_value IS NULL AND str_value IS NULL AND bool_value IS NULL AND date_value IS NULL AND time_value IS NULL) OR (value_type = 'string' AND str_value IS NOT NULL AND int_value IS NULL AND float_value IS NULL AND bool_value IS NULL AND date_value IS NULL AND time_value IS NULL) OR (value_type = 'bool' AND bool_value IS NOT NULL AND int_value IS NULL AND float_value IS NULL AND str_value IS NULL AND date_value IS NULL AND time_value IS NULL) OR (value_type = 'date' AND date_value IS NOT NULL AND int_value IS NULL AND float_value IS NULL AND str_value IS NULL AND bool_value IS NULL AND time_value IS NULL) OR (value_type = 'time' AND time_value IS NOT NULL AND int_value IS NULL AND float_value IS NULL AND str_value IS NULL AND bool_value IS NULL AND date_value IS NULL)",
            name=op.f("ck_appsettings_one_typed_value"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appsettings")),
        sa.UniqueConstraint("key", name=op.f("uq_appsettings_key")),
        sa.UniqueConstraint("uuid", name=op.f("uq_appsettings_uuid")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_groups_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_groups_name")),
        sa.UniqueConstraint("site_id", name=op.f("uq_groups_site_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_groups_uuid")),
    )
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_services_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("name", name=op.f("uq_services_name")),
        sa.UniqueConstraint("site_id", name=op.f("uq_services_site_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_services_uuid")),
    )
    op.create_table(
        "metadata",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("regexp", sa.Text(), nullable=True),
        sa.Column("short_description", sa.Text(), nullable=True),
        sa.Column("long_description", sa.Text(), nullable=True),
        sa.Column("example", sa.Text(), server_default="", nullable=False),
        sa.Column("datetimefmt", sa.Text(), nullable=True),
        sa.Column(
            "datetimemode", sa.Enum("date", "time", "datetime", name="datetimemode"), nullable=True
        ),
        sa.Column("mandatory", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("isfile", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("submission_unique", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("site_unique", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("btrim(name) <> ''", name=op.f("ck_metadata_name_not_blank")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_metadata_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadata")),
        sa.UniqueConstraint("name", name=op.f("uq_metadata_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_metadata_uuid")),
    )
    op.create_index(op.f("ix_metadata_service_id"), "metadata", ["service_id"], unique=False)
    op.create_table(
        "regrequests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fullname", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("new_group_name", sa.Text(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("btrim(fullname) <> ''", name=op.f("ck_regrequests_fullname_not_blank")),
        sa.CheckConstraint(
            "(group_id IS NULL) <> (new_group_name IS NULL)",
            name=op.f("ck_regrequests_one_group_choice"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_regrequests_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regrequests")),
        sa.UniqueConstraint("uuid", name=op.f("uq_regrequests_uuid")),
    )
    op.create_index(
        "uq_regrequests_email_lower",
        "regrequests",
        [sa.literal_column("lower(email)")],
        unique=True,
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "date", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_submissions_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("site_id", name=op.f("uq_submissions_site_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_submissions_uuid")),
    )
    op.create_index(op.f("ix_submissions_group_id"), "submissions", ["group_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("fullname", sa.Text(), nullable=False),
        sa.Column("pwhash", sa.String(length=60), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("site_admin", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("group_admin", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("site_read", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("tfa_secret_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("btrim(fullname) <> ''", name=op.f("ck_users_fullname_not_blank")),
        sa.CheckConstraint("position('@' in email) > 1", name=op.f("ck_users_email_has_at")),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_users_group_id_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("site_id", name=op.f("uq_users_site_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_users_uuid")),
    )
    op.create_index(op.f("ix_users_group_id"), "users", ["group_id"], unique=False)
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_table(
        "apikeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_apikeys_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apikeys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_apikeys_token_hash")),
        sa.UniqueConstraint("uuid", name=op.f("uq_apikeys_uuid")),
    )
    op.create_index(op.f("ix_apikeys_user_id"), "apikeys", ["user_id"], unique=False)
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(length=32), nullable=False),
        sa.Column("filesize", sa.BigInteger(), nullable=True),
        sa.Column("content_uploaded", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("upload_expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("upload_token_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "checksum ~ '^[0-9a-f]{32}$'", name=op.f("ck_files_checksum_is_md5_hex")
        ),
        sa.CheckConstraint("name <> ''", name=op.f("ck_files_name_not_empty")),
        sa.CheckConstraint(
            "NOT content_uploaded OR filesize IS NOT NULL", name=op.f("ck_files_uploaded_has_size")
        ),
        sa.CheckConstraint(
            "filesize IS NULL OR filesize >= 0", name=op.f("ck_files_filesize_not_negative")
        ),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_files_group_id_groups")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_files_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("site_id", name=op.f("uq_files_site_id")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_files_storage_key")),
        sa.UniqueConstraint("upload_token_hash", name=op.f("uq_files_upload_token_hash")),
        sa.UniqueConstraint("uuid", name=op.f("uq_files_uuid")),
    )
    op.create_index("ix_files_user_id", "files", ["user_id"], unique=False)
    op.create_table(
        "loginattempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "timestamp", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_loginattempts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loginattempts")),
    )
    op.create_index(
        "ix_loginattempts_user_time", "loginattempts", ["user_id", "timestamp"], unique=False
    )
    op.create_table(
        "metadatasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_metadatasets_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_metadatasets_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_metadatasets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadatasets")),
        sa.UniqueConstraint("site_id", name=op.f("uq_metadatasets_site_id")),
        sa.UniqueConstraint("uuid", name=op.f("uq_metadatasets_uuid")),
    )
    op.create_index(
        op.f("ix_metadatasets_submission_id"), "metadatasets", ["submission_id"], unique=False
    )
    op.create_index(
        "ix_metadatasets_user_id_staged",
        "metadatasets",
        ["user_id"],
        unique=False,
        postgresql_where="submission_id IS NULL",
    )
    op.create_table(
        "passwordtokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose", sa.Enum("password_reset", "tfa_setup", name="tokenpurpose"), nullable=False
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_passwordtokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passwordtokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_passwordtokens_token_hash")),
    )
    op.create_index(op.f("ix_passwordtokens_user_id"), "passwordtokens", ["user_id"], unique=False)
    op.create_table(
        "service_user",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_user_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_user_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", "user_id", name=op.f("pk_service_user")),
    )
    op.create_table(
        "usedpasswords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pwhash", sa.String(length=60), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_usedpasswords_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usedpasswords")),
    )
    op.create_index(op.f("ix_usedpasswords_user_id"), "usedpasswords", ["user_id"], unique=False)
    op.create_table(
        "metadatumrecords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("metadataset_id", sa.Integer(), nullable=False),
        sa.Column("metadatum_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_metadatumrecords_file_id_files")
        ),
        sa.ForeignKeyConstraint(
            ["metadataset_id"],
            ["metadatasets.id"],
            name=op.f("fk_metadatumrecords_metadataset_id_metadatasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metadatum_id"],
            ["metadata.id"],
            name=op.f("fk_metadatumrecords_metadatum_id_metadata"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadatumrecords")),
        sa.UniqueConstraint("file_id", name=op.f("uq_metadatumrecords_file_id")),
        sa.UniqueConstraint(
            "metadataset_id", "metadatum_id", name=op.f("uq_metadatumrecords_metadataset_id")
        ),
    )
    op.create_index(
        op.f("ix_metadatumrecords_metadatum_id"), "metadatumrecords", ["metadatum_id"], unique=False
    )
    op.create_table(
        "serviceexecutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("metadataset_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "execution_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("uuid", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["metadataset_id"],
            ["metadatasets.id"],
            name=op.f("fk_serviceexecutions_metadataset_id_metadatasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_serviceexecutions_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_serviceexecutions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serviceexecutions")),
        sa.UniqueConstraint(
            "service_id", "metadataset_id", name=op.f("uq_serviceexecutions_service_id")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_serviceexecutions_uuid")),
    )


def downgrade() -> None:
    op.drop_table("serviceexecutions")
    op.drop_index(op.f("ix_metadatumrecords_metadatum_id"), table_name="metadatumrecords")
    op.drop_table("metadatumrecords")
    op.drop_index(op.f("ix_usedpasswords_user_id"), table_name="usedpasswords")
    op.drop_table("usedpasswords")
    op.drop_table("service_user")
    op.drop_index(op.f("ix_passwordtokens_user_id"), table_name="passwordtokens")
    op.drop_table("passwordtokens")
    op.drop_index(
        "ix_metadatasets_user_id_staged",
        table_name="metadatasets",
        postgresql_where="submission_id IS NULL",
    )
    op.drop_index(op.f("ix_metadatasets_submission_id"), table_name="metadatasets")
    op.drop_table("metadatasets")
    op.drop_index("ix_loginattempts_user_time", table_name="loginattempts")
    op.drop_table("loginattempts")
    op.drop_index("ix_files_user_id", table_name="files")
    op.drop_table("files")
    op.drop_index(op.f("ix_apikeys_user_id"), table_name="apikeys")
    op.drop_table("apikeys")
    op.drop_index("uq_users_email_lower", table_name="users")
    op.drop_index(op.f("ix_users_group_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_submissions_group_id"), table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("uq_regrequests_email_lower", table_name="regrequests")
    op.drop_table("regrequests")
    op.drop_index(op.f("ix_metadata_service_id"), table_name="metadata")
    op.drop_table("metadata")
    op.drop_table("services")
    op.drop_table("groups")
    op.drop_table("appsettings")
    for sequence in SITE_ID_SEQUENCES:
        op.execute(sa.schema.DropSequence(sa.Sequence(sequence)))
    for enum_type in ("settingtype", "datetimemode", "tokenpurpose"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
