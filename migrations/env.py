"""Alembic environment: migrations are the only way the schema is made."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool, text

from datameta.config import env_name, resolve_raw
from datameta.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Held for the migration's transaction, so that app replicas starting at once
# migrate one after the other: the later ones find the schema at head.
MIGRATION_LOCK_ID = 0x446174614D657461


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave the job queue's tables to their own migration (procrastinate's schema)."""
    return not (type_ == "table" and reflected and (name or "").startswith("procrastinate_"))


def database_url() -> str:
    """DATAMETA_SQLALCHEMY_URL, else sqlalchemy.url of the app settings file (-x ini=FILE)."""
    if "database_url" in config.attributes:  # handed in by a caller such as the tests
        return config.attributes["database_url"]
    if env_name("sqlalchemy.url") in os.environ:
        return os.environ[env_name("sqlalchemy.url")]
    from pyramid.paster import get_appsettings

    ini = context.get_x_argument(as_dictionary=True).get("ini", "development.ini")
    return resolve_raw(get_appsettings(ini))["sqlalchemy.url"]


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def migrate(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, include_object=include_object
    )
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        migrate(connection)
        return
    engine = engine_from_config(
        {"sqlalchemy.url": database_url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        migrate(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
