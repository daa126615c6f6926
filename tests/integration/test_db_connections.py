"""A connection PostgreSQL dropped costs no request an error: the request is replayed.

Connections are not tested before each use (that costs a round trip per request);
the request that meets a dead one runs again on a fresh connection instead.
"""

from sqlalchemy import text

from datameta import make_app
from datameta.db import make_engine
from tests.conftest import TEST_INI
from tests.factories import make_api_key, make_user
from tests.helpers import api_headers, committing_client

NAME = "datameta-dropped-connection-test"


def test_a_killed_backend_connection_does_not_fail_the_next_request(
    settings, dbengine, committed_db, clean_database
):
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    engine = make_engine(
        settings, pool_size=1, connect_args={"connect_timeout": 5, "application_name": NAME}
    )
    client = committing_client(make_app(TEST_INI, dbengine=engine))
    try:
        client.get("/api/v1/rpc/whoami", headers=api_headers(key), status=200)
        with dbengine.connect() as connection:
            killed = connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": NAME},
            )
        assert killed == 1
        client.get("/api/v1/rpc/whoami", headers=api_headers(key), status=200)
    finally:
        engine.dispose()
