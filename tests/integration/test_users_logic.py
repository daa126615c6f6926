"""The users and groups logic against the database: sessions ending, queries, all or nothing."""

from __future__ import annotations

import pytest

from datameta.db import recorded_statements
from datameta.errors import Forbidden, ValidationFailed
from datameta.logic import groups, users
from tests.factories import make_group, make_user


@pytest.fixture
def lab(dbsession):
    return make_group(dbsession, "Logic Lab")


@pytest.fixture
def admin(dbsession, lab):
    return make_user(dbsession, group=lab, site_admin=True)


@pytest.fixture
def member(dbsession, lab):
    return make_user(dbsession, group=lab, fullname="Morgan Member")


def test_disabling_a_user_ends_their_sessions(dbsession, admin, member):
    before = member.session_generation
    users.update_user(dbsession, admin, member.site_id, {"enabled": False})
    assert member.session_generation == before + 1


def test_moving_a_user_to_another_group_ends_their_sessions(dbsession, admin, member):
    before = member.session_generation
    users.update_user(dbsession, admin, member.site_id, {"groupId": make_group(dbsession).site_id})
    assert member.session_generation == before + 1


@pytest.mark.parametrize(
    "changes",
    [{"name": "New Name"}, {"groupAdmin": True}, {"siteRead": True}, {"enabled": True}],
    ids=["renaming", "group admin", "site read", "enabling (already enabled)"],
)
def test_changes_that_keep_the_users_sessions(dbsession, admin, member, changes):
    before = member.session_generation
    users.update_user(dbsession, admin, member.site_id, changes)
    assert member.session_generation == before


def test_re_enabling_a_user_keeps_the_generation(dbsession, admin, member):
    member.enabled = False
    before = member.session_generation
    users.update_user(dbsession, admin, member.site_id, {"enabled": True})
    assert member.enabled is True
    assert member.session_generation == before


def test_a_refused_update_names_every_field_it_may_not_change(dbsession, lab, member):
    group_admin = make_user(dbsession, group=lab, group_admin=True)
    changes = {"name": "Fine", "siteRead": True, "siteAdmin": True, "groupAdmin": True}
    with pytest.raises(Forbidden) as refused:
        users.update_user(dbsession, group_admin, member.site_id, changes)
    assert sorted(item.field for item in refused.value.items) == ["siteAdmin", "siteRead"]
    assert (member.fullname, member.group_admin) == ("Morgan Member", False)


def test_permission_is_checked_before_the_values(dbsession, member):
    # A user who may not move anyone learns nothing about which groups exist.
    with pytest.raises(Forbidden):
        users.update_user(dbsession, member, member.site_id, {"groupId": "DMG-99999999"})


def test_every_invalid_value_is_reported_at_once(dbsession, admin, member):
    with pytest.raises(ValidationFailed) as refused:
        users.update_user(dbsession, admin, member.site_id, {"name": " ", "groupId": "nope"})
    assert sorted(item.field for item in refused.value.items) == ["groupId", "name"]


def test_listing_users_takes_the_same_queries_however_many_users(dbsession, dbengine):
    admin = make_user(dbsession, site_admin=True)

    def statements_to_list(more_users: int) -> int:
        for _ in range(more_users):
            make_user(dbsession)
        # Nothing cached: any lazy load per row would show up as another statement.
        dbsession.expire_all()
        dbsession.refresh(admin)
        with recorded_statements(dbengine) as statements:
            page, total = users.list_users(dbsession, admin, users.UserQuery(limit=1000))
            assert all(user.group.name for user in page)
        assert len(page) == total
        return len(statements)

    assert statements_to_list(1) == statements_to_list(20)


def test_group_names_are_unique_regardless_of_case(dbsession, admin):
    groups.create_group(dbsession, admin, "Sequencing Core")
    with pytest.raises(ValidationFailed) as refused:
        groups.create_group(dbsession, admin, "  sequencing CORE ")
    assert refused.value.items[0].message == groups.DUPLICATE_NAME


def test_a_group_may_be_renamed_to_another_spelling_of_its_name(dbsession, admin):
    group = groups.create_group(dbsession, admin, "imaging core")
    groups.rename_group(dbsession, admin, group.site_id, "Imaging Core")
    assert group.name == "Imaging Core"


def test_a_name_longer_than_200_characters_is_refused(dbsession, admin, member):
    with pytest.raises(ValidationFailed) as refused:
        users.update_user(dbsession, admin, member.site_id, {"name": "x" * 201})
    assert refused.value.items[0].field == "name"
