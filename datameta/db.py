"""Engine, sessions, and the request-scoped session bound to the request's transaction."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg2.errors
import psycopg2.extensions
import transaction
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid_retry import is_last_attempt, mark_error_retryable
from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Select,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from transaction._transaction import Status as ZopeStatus
from zope.sqlalchemy.datamanager import join_transaction, mark_changed

from datameta.config import Settings, settings_of
from datameta.models.siteids import SITE_ID_FORMATS_KEY, install_site_id_listener


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    """An engine whose transactions are SERIALIZABLE: races surface as retryable errors."""
    options: dict[str, Any] = {
        "isolation_level": "SERIALIZABLE",
        # No round trip to test each connection before use: connections are replaced
        # after half an hour, and a request that meets one PostgreSQL dropped (a restart,
        # a killed backend) is replayed on a fresh one (see retry_if_possible).
        "pool_recycle": 1800,
        # No JIT compilation: it pays off for long analytical queries only, and on
        # listings of many rows it spent seconds compiling queries that run in milliseconds.
        "connect_args": {"connect_timeout": 5, "options": "-c jit=off"},
    }
    options.update(overrides)
    return create_engine(settings.sqlalchemy_url, **options)


def make_session_factory(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, info={SITE_ID_FORMATS_KEY: settings.site_ids})
    install_site_id_listener(factory)
    install_transaction_joining(factory)
    return factory


# The names of the statements prepared on a connection, in the info that SQLAlchemy keeps
# for each DBAPI connection and clears when it closes one.
_PREPARED_KEY = "datameta.prepared_statements"


# PostgreSQL's SQL with parameters written ``:name``, as PreparedStatement takes them.
_NAMED_PARAMETERS = postgresql.psycopg2.dialect(paramstyle="named")


class PreparedStatement:
    """A statement that PostgreSQL parses and plans once per connection, then only executes.

    For the statements of the calls scripts make most: PostgreSQL planned the staging's
    insert afresh for every request, which cost it about as much as the insert itself.
    ``sql`` names its parameters ``:name``; ``parameters`` gives each name with its
    PostgreSQL type, in order; ``columns`` give the type of each column of its rows.
    A prepared statement lives as long as its connection, whatever becomes of the
    transaction that prepared it; PostgreSQL plans it again after a change to a table it
    reads.
    """

    def __init__(
        self,
        name: str,
        sql: str,
        parameters: Sequence[tuple[str, str]],
        columns: Sequence[ColumnElement[Any]],
    ) -> None:
        numbered = sql
        for number, (parameter, _) in enumerate(parameters, start=1):
            numbered = re.sub(rf"(?<!:):{parameter}\b", f"${number}", numbered)
        types = ", ".join(sql_type for _, sql_type in parameters)
        self.name = name
        self._prepare = f"PREPARE {name} ({types}) AS {numbered}"
        self._execute = f"EXECUTE {name} ({', '.join(f'%({p})s' for p, _ in parameters)})"
        self._types = [column.type for column in columns]
        self._processors: dict[str, list[Callable[[Any], Any] | None]] = {}

    @classmethod
    def of_select(
        cls, name: str, statement: Select[Any], parameters: Sequence[tuple[str, str]]
    ) -> PreparedStatement:
        """A Core SELECT as a prepared statement: its SQL as PostgreSQL takes it, the
        types of its columns; ``parameters`` name its bound parameters with their types."""
        sql = str(statement.compile(dialect=_NAMED_PARAMETERS))
        return cls(name, sql, parameters, list(statement.selected_columns))

    def _prepare_on(self, connection: Connection) -> None:
        """PREPARE the statement on the connection unless it was prepared there before."""
        prepared = connection.connection.info.setdefault(_PREPARED_KEY, set())
        if self.name not in prepared:
            # Unparsed by SQLAlchemy and psycopg2: the statement holds no parameters of theirs.
            connection.exec_driver_sql(self._prepare)
            prepared.add(self.name)

    def rows(self, connection: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The statement's rows, each value as its column's type gives it (as Core would),
        without the set-up of Core's result for every execution."""
        self._prepare_on(connection)
        if _statements_watched(connection):
            # Those who listen to the statements (tests, benchmarks) hear this one too.
            fetched = connection.exec_driver_sql(self._execute, values).all()
        else:
            fetched = _driver_rows(connection, self._execute, values)
        processors = self._processors_of(connection.dialect)
        return [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in fetched
        ]

    def _processors_of(self, dialect: Dialect) -> list[Callable[[Any], Any] | None]:
        if dialect.name not in self._processors:
            self._processors[dialect.name] = [
                column_type.dialect_impl(dialect).result_processor(dialect, None)
                for column_type in self._types
            ]
        return self._processors[dialect.name]


def _statements_watched(connection: Connection) -> bool:
    return bool(
        connection.dispatch.before_cursor_execute
        or connection.dispatch.after_cursor_execute
        or connection.dialect.dispatch.do_execute
    )


def _driver_rows(connection: Connection, sql: str, values: Mapping[str, Any]) -> list[Any]:
    """The rows of ``sql`` from a cursor of the driver, in the connection's transaction.

    Core built the description of a result (its columns, their types and processors)
    for every execution of the driver's SQL, which cost more than the rest of the lookup
    of a key. A driver error is raised as Core raises it, wrapped, and a lost connection
    invalidates the pool's connections as Core does: through Core's own handling (a
    private method: SQLAlchemy's pin in pyproject.toml keeps it, test_db_connections
    checks it).
    """
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        return list(cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as error:
        connection._handle_dbapi_exception(error, sql, values, cursor, None)
    finally:
        with suppress(connection.dialect.loaded_dbapi.Error):
            cursor.close()


# A session's transaction manager, in its info, for the listeners of its factory.
TRANSACTION_MANAGER_KEY = "transaction_manager"


def _manager(session: Session) -> transaction.TransactionManager | None:
    return session.info.get(TRANSACTION_MANAGER_KEY)


def _join(session: Session, *_: Any) -> None:
    manager = _manager(session)
    if manager is not None:
        join_transaction(session, transaction_manager=manager)


def _mark_changed(session: Session) -> None:
    # Else the transaction manager would roll back a transaction it believes read nothing.
    manager = _manager(session)
    if manager is not None:
        mark_changed(session, transaction_manager=manager)


def note_written(session: Session) -> None:
    """Tell the session's transaction that it wrote, through plain SQL that SQLAlchemy
    cannot tell from a read, so that it commits rather than rolls back."""
    _mark_changed(session)


def _after_flush(session: Session, _flush_context: Any) -> None:
    _mark_changed(session)


def _after_bulk_change(context: Any) -> None:
    _mark_changed(context.session)


def _after_orm_execute(state: ORMExecuteState) -> None:
    # Any INSERT, UPDATE or DELETE the session runs, also of a table rather than an
    # entity (set-wise staging): a request whose only write is such a statement must
    # commit it, not roll it back as a transaction that changed nothing.
    if state.is_insert or state.is_update or state.is_delete:
        _mark_changed(state.session)


def _before_commit(session: Session) -> None:
    manager = _manager(session)
    if manager is None or session.in_nested_transaction():
        return
    if manager.get().status != ZopeStatus.COMMITTING:
        raise AssertionError("Transaction must be committed using the transaction manager")


_TRANSACTION_LISTENERS: dict[str, Callable[..., None]] = {
    "after_begin": _join,
    "after_attach": _join,
    "after_flush": _after_flush,
    "after_bulk_update": _after_bulk_change,
    "after_bulk_delete": _after_bulk_change,
    "before_commit": _before_commit,
    "do_orm_execute": _after_orm_execute,
}


def install_transaction_joining(factory: sessionmaker[Session]) -> None:
    """Join the sessions of ``factory`` that name a transaction manager to its transaction.

    What zope.sqlalchemy's ``register`` does for one session, registered once on the
    factory (registering its seven listeners on every request's session cost about
    as much as the rest of opening the session), except that every INSERT, UPDATE
    or DELETE counts as a change, not only those of ORM entities.
    """
    for name, listener in _TRANSACTION_LISTENERS.items():
        if not event.contains(factory, name, listener):
            event.listen(factory, name, listener)
    _JOINING_FACTORIES.add(factory)


# Factories known to have the listeners: asking SQLAlchemy on every request costs more.
_JOINING_FACTORIES: weakref.WeakSet[sessionmaker[Session]] = weakref.WeakSet()


@contextmanager
def advisory_lock(engine: Engine, lock_id: int) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock, on a connection of its own, for the block.

    Taken before the block's transaction begins: a SERIALIZABLE transaction that
    waited for a lock inside itself would still read from its older snapshot.
    """
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_lock(lock_id)))
        try:
            yield
        finally:
            connection.execute(select(func.pg_advisory_unlock(lock_id)))


def get_tm_session(
    session_factory: sessionmaker[Session], transaction_manager: transaction.TransactionManager
) -> Session:
    """A session joined to ``transaction_manager``: it commits or aborts with it."""
    if session_factory not in _JOINING_FACTORIES:
        install_transaction_joining(session_factory)
    return session_factory(info={TRANSACTION_MANAGER_KEY: transaction_manager})


COMMIT_DESPITE_ERROR = "datameta.commit_despite_error"


def commit_veto(request: Request, response: Response) -> bool:
    """Abort the transaction of every error answer: bad input changes nothing.

    A view that must keep a write although it answers an error (a failed login
    is counted, an expired link is replaced) says so with ``commit_despite_error``.
    """
    if request.environ.get(COMMIT_DESPITE_ERROR):
        return False
    return response.status_int >= 400


def commit_despite_error(request: Request) -> None:
    """Keep this request's writes even though it answers an error status."""
    request.environ[COMMIT_DESPITE_ERROR] = True


ISOLATION_LEVEL_KEY = "datameta.isolation_level"


def begin_request_at(request: Request, isolation_level: str) -> None:
    """Run this request's transaction at ``isolation_level`` instead of SERIALIZABLE.

    For a tween to call before the view's transaction begins; only a route whose own
    locks make the lower level safe may ask for it (see ``api.submissions``).
    """
    request.environ[ISOLATION_LEVEL_KEY] = isolation_level


def _request_dbsession(request: Request) -> Session:
    # Tests hand in a session bound to a transaction they roll back afterwards.
    session = request.environ.get("app.dbsession")
    if session is None:
        session = get_tm_session(request.registry["dbsession_factory"], request.tm)
        isolation_level = request.environ.get(ISOLATION_LEVEL_KEY)
        if isolation_level is not None:
            # Begins the transaction on a connection at that level; the pool restores
            # the engine's level when the connection comes back.
            session.connection(execution_options={"isolation_level": isolation_level})
    return session


@contextmanager
def body_session(request: Request) -> Iterator[Session]:
    """A session for reading while a streamed response body is produced.

    Call it from the body's iterator (which may start in the view). pyramid_tm ends the
    request's transaction when the view returns, before the server sends the body; the
    body reads in a read-only snapshot of its own (REPEATABLE READ: every batch sees
    the same data), even where it started in the view. Where the request's session is
    handed in from outside the app, with a transaction it owns (tests), the body reads
    in that session.
    """
    if request.environ.get("app.dbsession") is not None:
        yield request.dbsession
        return
    session = request.registry["dbsession_factory"]()
    try:
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        yield session
    finally:
        session.close()


def includeme(config: Configurator) -> None:
    settings = settings_of(config.registry)
    # pyramid_tm owns the transaction: commit after the view, abort on an exception.
    config.add_settings(
        {
            "tm.manager_hook": "pyramid_tm.explicit_manager",
            "tm.commit_veto": "datameta.db.commit_veto",
            # No user in the transaction's notes: nothing reads them, and finding the user
            # there would run before the exception views are in place, so a memcached
            # outage would escape them as a bare 500 and a dropped connection could not
            # be replayed.
            "tm.annotate_user": "false",
        }
    )
    config.include("pyramid_tm")
    # A serialization failure aborts the transaction; pyramid_retry replays the request.
    config.include("pyramid_retry")
    engine = config.registry.get("dbengine") or make_engine(settings)
    config.registry["dbengine"] = engine
    config.registry["dbsession_factory"] = make_session_factory(engine, settings)
    config.add_request_method(_request_dbsession, "dbsession", reify=True)


def is_serialization_failure(error: BaseException) -> bool:
    """A transaction lost a race with a concurrent one (SERIALIZABLE): retrying may succeed."""
    return isinstance(error, DBAPIError) and isinstance(
        error.orig, psycopg2.extensions.TransactionRollbackError
    )


def is_database_outage(error: BaseException) -> bool:
    """PostgreSQL cannot be reached or dropped the connection: not a bug, not a lost race."""
    if (
        not isinstance(error, DBAPIError)
        or is_serialization_failure(error)
        or is_statement_timeout(error)
    ):
        return False
    return error.connection_invalidated or isinstance(
        error.orig, psycopg2.OperationalError | psycopg2.InterfaceError
    )


def is_dropped_connection(error: BaseException) -> bool:
    """PostgreSQL closed the connection (restarted, killed the backend): a fresh one may work.

    SQLAlchemy then discards every connection of the pool that predates the failure.
    """
    return isinstance(error, DBAPIError) and error.connection_invalidated


def retry_if_possible(request: Request, error: BaseException) -> None:
    """Re-raise a lost race or a dropped connection for pyramid_retry to replay the request,
    unless attempts are used up.

    Exception views call this first: pyramid_tm renders commit errors through
    exception views, which would otherwise turn a retryable error into an answer.
    """
    retryable = is_serialization_failure(error) or is_dropped_connection(error)
    if retryable and not is_last_attempt(request):
        mark_error_retryable(error)
        raise error


def limit_statement_time(db: Session, milliseconds: int) -> None:
    """Cancel any later statement of ``db``'s transaction that runs longer than this.

    PostgreSQL's ``statement_timeout``, for this transaction only (``SET LOCAL``); a
    cancelled statement raises an error that ``is_statement_timeout`` recognises.
    """
    db.execute(select(func.set_config("statement_timeout", str(milliseconds), True)))


def is_statement_timeout(error: BaseException) -> bool:
    """PostgreSQL cancelled a statement that ran longer than ``limit_statement_time`` allows."""
    return isinstance(error, DBAPIError) and isinstance(error.orig, psycopg2.errors.QueryCanceled)


@contextmanager
def recorded_statements(engine: Engine, *, preparations: bool = False) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the ``with`` block, as a list that fills up.

    Tests and benchmarks count them to prove that work takes a fixed number of queries.
    The PREPARE of a ``PreparedStatement`` is left out unless ``preparations``: a
    connection runs it once, in whichever work first needs the statement.
    """
    statements: list[str] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if preparations or not statement.startswith("PREPARE "):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
