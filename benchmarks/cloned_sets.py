"""Many submitted sets in seconds: copies, in SQL, of the submitted sets a server already has.

The listing of 10,000 submitted sets is to be compared with DataMeta 1.1.1, which takes
minutes to stage and submit that many through its API. Both servers keep a set as one
``metadatasets`` row and a value as one ``metadatumrecords`` row, so the same statements
copy both; which other columns each has is read from the database, and copied as they
are. A copy's site id is its original's with ``~<round>`` appended, and it names no
file (a file belongs to one set), so the copies are listed like the originals but
without file links.
"""

from __future__ import annotations

import sqlalchemy as sa

# Given new values; every other column is copied from the original row.
FRESH = {
    "metadatasets": {"id", "uuid", "site_id"},
    "metadatumrecords": {"id", "uuid", "metadataset_id", "file_id"},
}


def clone_submitted(url: str, total: int) -> int:
    """Copy submitted sets, with their values, until ``total`` exist; return how many exist."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            originals = count = _submitted_count(connection)
            if count == 0:
                raise SystemExit("no submitted set to copy")
            round_ = 0
            while count < total:
                round_ += 1
                count += _copy_round(connection, f"~{round_}", min(originals, total - count))
            return count
    finally:
        engine.dispose()


def _submitted_count(connection: sa.Connection) -> int:
    query = "SELECT count(*) FROM metadatasets WHERE submission_id IS NOT NULL"
    return connection.execute(sa.text(query)).scalar_one()


def _columns(connection: sa.Connection, table: str) -> list[str]:
    query = (
        "SELECT column_name FROM information_schema.columns WHERE table_name = :table "
        "AND table_schema = current_schema() ORDER BY ordinal_position"
    )
    return list(connection.execute(sa.text(query), {"table": table}).scalars())


def _copied_columns(connection: sa.Connection, table: str) -> list[str]:
    return [name for name in _columns(connection, table) if name not in FRESH[table]]


def _copy_round(connection: sa.Connection, suffix: str, how_many: int) -> int:
    """Copy the first ``how_many`` original submitted sets and their values."""
    sets = _copied_columns(connection, "metadatasets")
    records = _copied_columns(connection, "metadatumrecords")
    # DataMeta 1.1.1's values have a uuid (given by its app, not the database).
    record_uuid = ", uuid" if "uuid" in _columns(connection, "metadatumrecords") else ""
    record_uuid_value = ", gen_random_uuid()" if record_uuid else ""
    copied = connection.execute(
        sa.text(
            f"INSERT INTO metadatasets (uuid, site_id, {', '.join(sets)}) "  # noqa: S608 (names from the catalog)
            f"SELECT gen_random_uuid(), site_id || :suffix, {', '.join(sets)} FROM metadatasets "
            "WHERE submission_id IS NOT NULL AND site_id NOT LIKE '%~%' ORDER BY id LIMIT :n"
        ),
        {"suffix": suffix, "n": how_many},
    ).rowcount
    connection.execute(
        sa.text(
            f"INSERT INTO metadatumrecords (metadataset_id, file_id{record_uuid}, "  # noqa: S608
            f"{', '.join(records)}) "
            f"SELECT copy.id, NULL{record_uuid_value}, "
            f"{', '.join(f'record.{name}' for name in records)} "
            "FROM metadatasets AS copy "
            "JOIN metadatasets AS original ON copy.site_id = original.site_id || :suffix "
            "JOIN metadatumrecords AS record ON record.metadataset_id = original.id"
        ),
        {"suffix": suffix},
    )
    return copied
