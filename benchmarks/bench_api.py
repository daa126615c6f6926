"""Benchmarks of the API's heavy operations, in-process against the stack of `make run`.

    .venv/bin/python -m benchmarks.bench_api      (or: make bench)

- POST /submissions of N staged metadatasets (20 columns) with N files;
- GET /metadatasets pages over M submitted metadatasets.
Each reports wall time, peak Python memory and the number of SQL statements,
for two sizes, so that growth is visible.
"""

from __future__ import annotations

import sqlalchemy as sa

from benchmarks.common import bench_app, peak_memory, scratch_database, timed
from benchmarks.seed import add_group_and_user, add_metadatasets, define_columns
from datameta.models import ApiKey
from datameta.security.tokens import generate_token, hash_token


def api_key(engine: sa.Engine, user_id: int) -> str:
    token = generate_token()
    with engine.begin() as connection:
        connection.execute(
            sa.insert(ApiKey.__table__).values(
                user_id=user_id, token_hash=hash_token(token), label="bench"
            )
        )
    return token


def prepare(name: str, count: int, *, submitted: bool):
    url, environ = scratch_database(name)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        define_columns(connection, file_column=not submitted)
        group_id, user_id = add_group_and_user(connection)
        add_metadatasets(connection, user_id, group_id, count, submitted=submitted)
        connection.execute(sa.text("ANALYZE"))
    token = api_key(engine, user_id)
    engine.dispose()
    client, app = bench_app(environ)
    return client, app.registry["dbengine"], {"Authorization": f"Bearer {token}"}


def submit_all(client, engine: sa.Engine, headers: dict[str, str]):
    with engine.connect() as connection:
        set_ids = connection.execute(sa.text("SELECT site_id FROM metadatasets")).scalars().all()
        file_ids = connection.execute(sa.text("SELECT site_id FROM files")).scalars().all()
    body = {"metadatasetIds": set_ids, "fileIds": file_ids, "label": "bench"}
    return lambda: client.post_json("/api/v1/submissions", body, headers=headers)


def bench_submission(count: int) -> str:
    # A submission happens once: time and memory are measured on two equal sites.
    client, engine, headers = prepare(f"datameta_bench_submit_{count}", count, submitted=False)
    seconds, statements, response = timed(engine, submit_all(client, engine, headers))
    assert response.status_int == 200, response.text
    assert len(response.json["metadatasetIds"]) == count
    client, engine, headers = prepare(f"datameta_bench_submit_{count}", count, submitted=False)
    peak, _ = peak_memory(submit_all(client, engine, headers))
    return (
        f"| POST /submissions | {count} sets of 20 values + {count} files | {seconds:.2f} s "
        f"| {peak:.0f} MiB | {statements} |"
    )


def bench_listing(count: int) -> list[str]:
    client, engine, headers = prepare(f"datameta_bench_list_{count}", count, submitted=True)
    pages = (("first", "limit=1000"), ("last", f"limit=1000&offset={count - 1000}"))
    rows = []
    for label, query in pages:

        def get_page(query: str = query):
            return client.get(f"/api/v1/metadatasets?{query}", headers=headers)

        seconds, statements, response = timed(engine, get_page)
        assert len(response.json) == 1000
        peak, _ = peak_memory(get_page)
        rows.append(
            f"| GET /metadatasets, {label} page of 1000 | {count} submitted sets of 20 values "
            f"| {seconds:.2f} s | {peak:.0f} MiB | {statements} |"
        )
    return rows


def main() -> None:
    print("| operation | data | time | peak memory | SQL statements |")
    print("|---|---|---|---|---|")
    for count in (500, 5000):
        print(bench_submission(count), flush=True)
    for count in (10_000, 100_000):
        for row in bench_listing(count):
            print(row, flush=True)


if __name__ == "__main__":
    main()
