"""Statements PostgreSQL plans once per connection: prepared on first use, typed rows."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from datameta.db import PreparedStatement, recorded_statements

ECHO = PreparedStatement(
    "datameta_test_echo",
    "SELECT :id + 1, CAST(:uuid AS uuid), :moment, decode(:hex, 'hex')",
    [("id", "integer"), ("uuid", "text"), ("moment", "timestamptz"), ("hex", "text")],
    [
        sa.column("id", sa.Integer),
        sa.column("uuid", sa.Uuid),
        sa.column("moment", sa.DateTime(timezone=True)),
        sa.column("bytes", sa.LargeBinary),
    ],
)


@pytest.fixture
def fresh_engine(dbengine):
    """An engine whose every connection is a new one."""
    engine = sa.create_engine(dbengine.url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def values() -> dict:
    return {"id": 41, "uuid": str(uuid.UUID(int=7)), "moment": datetime(2026, 1, 2, tzinfo=UTC)}


def test_rows_come_typed_as_their_columns_say(dbengine):
    with dbengine.connect() as connection:
        [row] = ECHO.rows(connection, {**values(), "hex": "00ff"})
    assert row == (42, uuid.UUID(int=7), datetime(2026, 1, 2, tzinfo=UTC), b"\x00\xff")


def test_a_connection_prepares_a_statement_once(fresh_engine):
    with (
        fresh_engine.connect() as connection,
        recorded_statements(fresh_engine, preparations=True) as statements,
    ):
        for _ in range(3):
            ECHO.rows(connection, {**values(), "hex": "00"})
    assert [statement.split(" ")[0] for statement in statements] == [
        "PREPARE",
        "EXECUTE",
        "EXECUTE",
        "EXECUTE",
    ]


def test_a_rolled_back_transaction_keeps_the_statement_prepared(dbengine):
    with dbengine.connect() as connection:
        ECHO.rows(connection, {**values(), "hex": "00"})
        connection.rollback()
        with recorded_statements(dbengine, preparations=True) as statements:
            ECHO.rows(connection, {**values(), "hex": "00"})
    assert [statement.split(" ")[0] for statement in statements] == ["EXECUTE"]


def test_a_new_connection_prepares_it_again(fresh_engine):
    for _ in range(2):
        with (
            fresh_engine.connect() as connection,
            recorded_statements(fresh_engine, preparations=True) as statements,
        ):
            ECHO.rows(connection, {**values(), "hex": "00"})
        assert statements[0].startswith("PREPARE")


def test_rows_are_the_same_whether_anyone_listens_to_the_statements_or_not(dbengine):
    # Unheard, they come from the driver's cursor; heard, through Core.
    with dbengine.connect() as connection:
        unheard = ECHO.rows(connection, {**values(), "hex": "0a"})
        with recorded_statements(dbengine) as statements:
            heard = ECHO.rows(connection, {**values(), "hex": "0a"})
    assert statements == [ECHO._execute]
    assert heard == unheard


def test_a_failing_statement_raises_as_sqlalchemy_raises_it(dbengine):
    with dbengine.connect() as connection:
        with pytest.raises(sa.exc.DataError) as raised:
            ECHO.rows(connection, {**values(), "hex": "not hex"})
        assert raised.value.connection_invalidated is False
        connection.rollback()
        assert ECHO.rows(connection, {**values(), "hex": "00"})[0][0] == 42


def test_a_dropped_connection_is_invalidated_as_sqlalchemy_does(fresh_engine, dbengine):
    with fresh_engine.connect() as connection:
        ECHO.rows(connection, {**values(), "hex": "00"})
        backend = connection.scalar(sa.text("SELECT pg_backend_pid()"))
        connection.commit()
        with dbengine.connect() as other:
            other.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(sa.exc.DBAPIError) as raised:
            ECHO.rows(connection, {**values(), "hex": "00"})
        assert raised.value.connection_invalidated is True
        assert connection.invalidated
