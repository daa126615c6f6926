"""initialize_datameta_db seeds an empty site with its first group and site admin."""

import sqlalchemy as sa

from datameta.logic.bootstrap import InitialUser, create_initial_admin
from datameta.models import ApiKey, UsedPassword, User
from datameta.security.passwords import verify_password
from datameta.security.tokens import hash_token

INITIAL = InitialUser(
    fullname="First Admin",
    email="First.Admin@Example.org",
    password="Initial-Password-1",
    group_name="First Lab",
    api_key="k" * 64,
)


def test_the_first_user_is_site_admin_group_admin_and_site_read(dbsession):
    dbsession.execute(sa.delete(User))  # inside the test's rolled-back transaction
    user = create_initial_admin(dbsession, INITIAL)
    assert user is not None
    assert (user.site_admin, user.group_admin, user.site_read, user.enabled) == (
        True,
        True,
        True,
        True,
    )
    assert user.email == "first.admin@example.org"
    assert user.group.name == "First Lab"
    assert verify_password("Initial-Password-1", user.pwhash)
    assert dbsession.scalar(sa.select(sa.func.count()).where(UsedPassword.user_id == user.id)) == 1
    key = dbsession.scalar(sa.select(ApiKey).where(ApiKey.user_id == user.id))
    assert key.token_hash == hash_token("k" * 64)
    assert key.expires is None


def test_nothing_happens_when_users_exist(dbsession):
    dbsession.execute(sa.delete(User))
    create_initial_admin(dbsession, INITIAL)
    again = InitialUser("Other", "other@example.org", "Other-Password-1", "Other Lab")
    assert create_initial_admin(dbsession, again) is None
    assert dbsession.scalar(sa.select(sa.func.count()).select_from(User)) == 1
