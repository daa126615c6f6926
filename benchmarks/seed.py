"""Set-based seeding of large amounts of data straight in SQL, for the benchmarks."""

from __future__ import annotations

import sqlalchemy as sa

COLUMNS = 20


def define_columns(connection: sa.Connection, *, file_column: bool) -> None:
    """COLUMNS definitions: C01 site-unique sample id, C02 a date, the last a file column."""
    for index in range(1, COLUMNS + 1):
        connection.execute(
            sa.text(
                'INSERT INTO metadata (name, regexp, datetimefmt, mandatory, "order", isfile, '
                "submission_unique, site_unique) VALUES (:name, :regexp, :fmt, :mandatory, "
                ":order, :isfile, :unique, :unique)"
            ),
            {
                "name": f"C{index:02d}",
                "regexp": "S[0-9]+" if index == 1 else None,
                "fmt": "%Y-%m-%d" if index == 2 else None,
                "mandatory": index == 1,
                "order": index,
                "isfile": file_column and index == COLUMNS,
                "unique": index == 1,
            },
        )


def add_group_and_user(connection: sa.Connection) -> tuple[int, int]:
    group_id = connection.execute(
        sa.text("INSERT INTO groups (name, site_id) VALUES ('Bench', 'DMG-B0000001') RETURNING id")
    ).scalar_one()
    user_id = connection.execute(
        sa.text(
            "INSERT INTO users (email, fullname, group_id, site_id, site_read) VALUES "
            "('bench@example.org', 'Bench User', :group, 'DMU-B0000001', true) RETURNING id"
        ),
        {"group": group_id},
    ).scalar_one()
    return group_id, user_id


def add_metadatasets(
    connection: sa.Connection,
    user_id: int,
    group_id: int,
    count: int,
    *,
    submitted: bool,
    series: str = "B",
) -> None:
    """``count`` sets with a value in every column, and (unsubmitted) one file each.

    Their site ids (and their files') are numbered in ``series``, so that several calls
    add distinct sets.
    """
    submission_id = None
    if submitted:
        submission_id = connection.execute(
            sa.text(
                "INSERT INTO submissions (group_id, site_id, label) "
                "VALUES (:group, 'DMS-' || :series || '0000001', 'seeded') RETURNING id"
            ),
            {"group": group_id, "series": series},
        ).scalar_one()
    ids = list(
        connection.execute(
            sa.text(
                "INSERT INTO metadatasets (site_id, user_id, group_id, submission_id) "
                "SELECT 'DMR-' || :series || lpad(n::text, 9, '0'), :user, :group, :submission "
                "FROM generate_series(1, :count) AS n RETURNING id"
            ),
            {
                "series": series,
                "user": user_id,
                "group": group_id,
                "submission": submission_id,
                "count": count,
            },
        ).scalars()
    )
    connection.execute(
        sa.text(
            "INSERT INTO metadatumrecords (metadataset_id, metadatum_id, value) "
            "SELECT s.id, m.id, CASE "
            "  WHEN m.name = 'C01' THEN 'S' || s.id "
            "  WHEN m.name = 'C02' THEN '2024-01-31T00:00:00' "
            "  WHEN m.isfile THEN 'file-' || s.id || '.fq' "
            "  ELSE 'value ' || m.name || ' ' || s.id END "
            "FROM metadatasets s CROSS JOIN metadata m WHERE s.id = ANY(:ids)"
        ),
        {"ids": ids},
    )
    if submitted:
        # Their search texts, as the worker writes them after a submission: without them
        # every search would compute the texts of all these sets (logic.search_texts).
        connection.execute(sa.text("SELECT refresh_search_text(:ids)"), {"ids": ids})
    if not submitted:
        connection.execute(
            sa.text(
                "INSERT INTO files (site_id, name, storage_key, checksum, filesize, "
                "content_uploaded, user_id, group_id, upload_expires) "
                "SELECT 'DMF-' || :series || lpad(s.id::text, 9, '0'), "
                "'file-' || s.id || '.fq', 'bench/' || s.id, md5(s.id::text), 1, true, "
                ":user, :group, now() + interval '1 day' FROM metadatasets s "
                "WHERE s.id = ANY(:ids)"
            ),
            {"series": series, "user": user_id, "group": group_id, "ids": ids},
        )


def seed_submitted(engine: sa.Engine, count: int) -> int:
    """``count`` submitted sets of one user in an empty schema, analyzed; the user's id."""
    with engine.begin() as connection:
        define_columns(connection, file_column=False)
        group_id, user_id = add_group_and_user(connection)
        add_metadatasets(connection, user_id, group_id, count, submitted=True)
    # Fresh statistics, so the planner chooses the plans it will have in production.
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text("VACUUM ANALYZE")
        )
    return user_id
