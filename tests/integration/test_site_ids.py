"""Every entity the API exposes gets a site id that never collides."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from datameta.config import SiteIdFormat
from datameta.models import Group, Submission, User, allocate_site_ids
from datameta.models.siteids import (
    SITE_ID_FORMATS_KEY,
    SiteIdSpaceExhausted,
    checked_site_id,
    format_site_id,
    site_id_sql,
)


def test_a_new_group_gets_a_site_id_with_the_configured_prefix(dbsession):
    group = Group(name="Site id test group")
    dbsession.add(group)
    dbsession.flush()
    assert re.fullmatch(r"DMG-\d{8}", group.site_id)
    assert group.uuid is not None


def test_entities_of_one_flush_get_distinct_site_ids(dbsession):
    group = Group(name="Lab of many users")
    users = [User(email=f"u{i}@example.org", fullname=f"U {i}", group=group) for i in range(5)]
    dbsession.add_all(users)
    dbsession.flush()
    assert len({user.site_id for user in users}) == 5
    assert all(user.site_id.startswith("DMU-") for user in users)


def test_site_ids_can_be_reserved_in_bulk(dbsession):
    site_ids = allocate_site_ids(dbsession, "metadatasets", 1000)
    assert len(set(site_ids)) == 1000
    assert all(re.fullmatch(r"DMR-\d{8}", site_id) for site_id in site_ids)


def test_site_ids_are_unique_under_concurrent_inserts(app, dbengine):
    session_factory = app.registry["dbsession_factory"]
    group_name = "Concurrent submissions"

    def insert_submissions(worker: int) -> list[str]:
        with session_factory.begin() as db:
            group = db.scalar(sa.select(Group).where(Group.name == group_name))
            submissions = [Submission(group_id=group.id, label=f"w{worker}") for _ in range(25)]
            db.add_all(submissions)
            db.flush()
            return [submission.site_id for submission in submissions]

    with session_factory.begin() as db:
        db.add(Group(name=group_name))
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            site_ids = [
                site_id for batch in pool.map(insert_submissions, range(8)) for site_id in batch
            ]
        assert len(site_ids) == 200
        assert len(set(site_ids)) == 200
    finally:
        with session_factory.begin() as db:
            group_id = db.scalar(sa.select(Group.id).where(Group.name == group_name))
            db.execute(sa.delete(Submission).where(Submission.group_id == group_id))
            db.execute(sa.delete(Group).where(Group.id == group_id))


def formatted_in_sql(dbsession, number: int, site_format: SiteIdFormat) -> str:
    """The site id PostgreSQL formats from ``number`` as staging's insert does."""
    return dbsession.scalar(
        sa.text(f"SELECT {site_id_sql('CAST(:number AS text)')}"),
        {
            "number": number,
            "site_id_prefix": site_format.prefix,
            "site_id_digits": site_format.digits,
        },
    )


def test_site_ids_drawn_in_sql_are_formatted_as_in_python(dbsession):
    site_format = SiteIdFormat("P-", 3)
    for number in (1, 7, 42, 999):
        assert formatted_in_sql(dbsession, number, site_format) == format_site_id(
            site_format, number
        )


def test_a_site_id_number_too_long_for_its_digits_is_refused_not_cut(dbsession):
    site_format = SiteIdFormat("P-", 3)
    session = Session(info={SITE_ID_FORMATS_KEY: {"metadatasets": site_format}})
    site_id = formatted_in_sql(dbsession, 12345, site_format)
    assert site_id == "P-12345"
    with pytest.raises(SiteIdSpaceExhausted):
        checked_site_id(session, "metadatasets", site_id)
    assert checked_site_id(session, "metadatasets", "P-999") == "P-999"
