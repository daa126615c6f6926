"""A connection PostgreSQL dropped costs no request an error: the request is replayed.

Connections are not tested before each use (that costs a round trip per request);
the request that meets a dead one runs again on a fresh connection instead.
"""

import pytest
from sqlalchemy import text

from datameta import make_app
from datameta.db import make_engine
from tests.conftest import TEST_INI
from tests.factories import committed_submitter, make_api_key, make_user, stage
from tests.helpers import api_headers, committing_client

NAME = "datameta-dropped-connection-test"


def _kill_backends(dbengine) -> int:
    with dbengine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": NAME},
        )


@pytest.fixture
def one_connection_client(settings):
    """A client of the app whose pool holds one connection, named for ``_kill_backends``."""
    engine = make_engine(
        settings, pool_size=1, connect_args={"connect_timeout": 5, "application_name": NAME}
    )
    yield committing_client(make_app(TEST_INI, dbengine=engine))
    engine.dispose()


def test_a_killed_backend_connection_does_not_fail_the_next_request(
    one_connection_client, dbengine, committed_db, clean_database
):
    key = make_api_key(committed_db, make_user(committed_db))
    committed_db.commit()
    client = one_connection_client
    client.get("/api/v1/rpc/whoami", headers=api_headers(key), status=200)
    assert _kill_backends(dbengine) == 1
    client.get("/api/v1/rpc/whoami", headers=api_headers(key), status=200)


def test_a_staging_in_the_express_lane_survives_a_killed_backend_connection(
    one_connection_client, dbengine, committed_db, clean_database
):
    # The lane meets the dead connection (with its statements prepared) and hands the
    # request to the app, which replays it on a fresh connection, preparing them again.
    client = one_connection_client
    key = committed_submitter(committed_db, client)
    stage(client, key, {"SampleId": "S1"})
    assert _kill_backends(dbengine) == 1
    staged = stage(client, key, {"SampleId": "S2"}).json
    assert staged["record"]["SampleId"] == "S2"
    stage(client, key, {"SampleId": "S3"})
    with dbengine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM metadatasets")) == 3
