"""GET /users, GET /users/{id} and PUT /users/{id}: who sees and changes what of whom."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from datameta import make_app
from datameta.models import User
from tests.conftest import TEST_INI
from tests.factories import DEFAULT_PASSWORD, make_api_key, make_group, make_user
from tests.helpers import api_headers, assert_api_error, committing_client, csrf_token, login

USER_RESPONSE_KEYS = {"id", "name", "groupId", "groupAdmin", "siteAdmin", "siteRead", "email"}


@dataclass
class Site:
    """Two groups and one user of each role; ``headers(user)`` authenticates as them."""

    db: object
    lab: object
    other: object
    admin: object
    group_admin: object
    member: object
    reader: object
    outsider: object

    def headers(self, user) -> dict[str, str]:
        return api_headers(make_api_key(self.db, user))


@pytest.fixture
def site(dbsession) -> Site:
    lab = make_group(dbsession, "Lab of Users")
    other = make_group(dbsession, "Other Lab")
    return Site(
        db=dbsession,
        lab=lab,
        other=other,
        admin=make_user(dbsession, group=other, fullname="Ada Admin", site_admin=True),
        group_admin=make_user(dbsession, group=lab, fullname="Gus Groupadmin", group_admin=True),
        member=make_user(dbsession, group=lab, fullname="Mia Member", email="mia@example.org"),
        reader=make_user(dbsession, group=other, fullname="Rita Reader", site_read=True),
        outsider=make_user(dbsession, group=other, fullname="Otto Outsider"),
    )


def user_url(user, *, by: str = "uuid") -> str:
    return f"/api/v1/users/{user.uuid if by == 'uuid' else user.site_id}"


# GET /users/{id}


def test_showing_a_user_needs_credentials(testapp, site):
    assert_api_error(testapp.get(user_url(site.member), status=401), 401)


def test_a_regular_user_sees_their_name_and_group_but_not_their_roles(testapp, site):
    response = testapp.get(user_url(site.member), headers=site.headers(site.member))
    assert response.json == {
        "id": {"uuid": str(site.member.uuid), "site": site.member.site_id},
        "name": "Mia Member",
        "groupId": {"uuid": str(site.lab.uuid), "site": site.lab.site_id},
        "groupAdmin": None,
        "siteAdmin": None,
        "siteRead": None,
        "email": None,
    }


@pytest.mark.parametrize(
    ("viewer", "viewed"),
    [
        pytest.param("member", "group_admin", id="a regular user, a member of their group"),
        pytest.param("group_admin", "outsider", id="a group admin, a user of another group"),
    ],
)
def test_a_user_who_may_not_see_another_is_told_it_does_not_exist(testapp, site, viewer, viewed):
    response = testapp.get(
        user_url(getattr(site, viewed)), headers=site.headers(getattr(site, viewer)), status=404
    )
    assert_api_error(response, 404, "NotFound")


def test_a_group_admin_sees_email_and_roles_of_their_group(testapp, site):
    response = testapp.get(user_url(site.member), headers=site.headers(site.group_admin))
    assert response.json["email"] == "mia@example.org"
    assert response.json["groupAdmin"] is False
    assert response.json["siteAdmin"] is False
    assert response.json["siteRead"] is False


def test_a_site_reader_sees_every_user_but_no_email_or_roles(testapp, site):
    response = testapp.get(user_url(site.member), headers=site.headers(site.reader))
    assert response.json["name"] == "Mia Member"
    assert response.json["email"] is None
    assert response.json["groupAdmin"] is None


def test_a_site_admin_sees_everything_of_everyone(testapp, site):
    response = testapp.get(user_url(site.member), headers=site.headers(site.admin))
    assert set(response.json) == USER_RESPONSE_KEYS
    assert response.json["email"] == "mia@example.org"
    # The user's own group, not the caller's.
    assert response.json["groupId"]["uuid"] == str(site.lab.uuid)


def test_a_user_is_found_by_uuid_and_by_site_id(testapp, site):
    headers = site.headers(site.admin)
    by_uuid = testapp.get(user_url(site.member, by="uuid"), headers=headers)
    by_site_id = testapp.get(user_url(site.member, by="site"), headers=headers)
    assert by_uuid.json == by_site_id.json


@pytest.mark.parametrize("unknown", ["DMU-99999999", "8d0c1f1e-0000-4000-8000-000000000000", "x"])
def test_an_unknown_user_is_not_found(testapp, site, unknown):
    response = testapp.get(f"/api/v1/users/{unknown}", headers=site.headers(site.admin), status=404)
    assert_api_error(response, 404, "NotFound")


# PUT /users/{id}


def put_user(testapp, site, actor, target, changes, *, status=204):
    return testapp.put_json(user_url(target), changes, headers=site.headers(actor), status=status)


def test_changing_a_user_needs_credentials(testapp, site):
    response = testapp.put_json(user_url(site.member), {"name": "Nobody"}, status=401)
    assert_api_error(response, 401)


def test_users_rename_themselves(testapp, site):
    put_user(testapp, site, site.member, site.member, {"name": "  Mia Renamed  "})
    assert site.member.fullname == "Mia Renamed"


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_name_must_not_be_blank(testapp, site, blank):
    response = put_user(testapp, site, site.member, site.member, {"name": blank}, status=400)
    assert_api_error(response, 400, "ValidationError", field="name")
    assert site.member.fullname == "Mia Member"


def test_a_regular_user_cannot_make_themselves_group_admin(testapp, site):
    response = put_user(
        testapp,
        site,
        site.member,
        site.member,
        {"name": "Mia Boss", "groupAdmin": True},
        status=403,
    )
    assert_api_error(response, 403, "AccessDenied", field="groupAdmin")
    # All or nothing: the permitted rename did not happen either.
    assert site.member.fullname == "Mia Member"
    assert site.member.group_admin is False


def test_a_field_given_with_its_current_value_is_not_a_change(testapp, site):
    # What a client sends back after reading a user: unchanged fields need no permission.
    unchanged = {"siteAdmin": False, "groupAdmin": False, "enabled": True, "siteRead": False}
    unchanged["groupId"] = site.lab.site_id
    put_user(testapp, site, site.member, site.member, {"name": "Mia M.", **unchanged})
    assert site.member.fullname == "Mia M."


def test_a_group_admin_manages_the_members_of_their_group(testapp, site):
    put_user(
        testapp,
        site,
        site.group_admin,
        site.member,
        {"name": "Mia Managed", "groupAdmin": True, "enabled": False},
    )
    assert site.member.fullname == "Mia Managed"
    assert site.member.group_admin is True
    assert site.member.enabled is False


def test_a_group_admin_grants_and_revokes_their_own_group_admin(testapp, site):
    put_user(testapp, site, site.group_admin, site.group_admin, {"groupAdmin": False})
    assert site.group_admin.group_admin is False


@pytest.mark.parametrize("field", ["siteRead", "siteAdmin", "groupId"])
def test_a_group_admin_cannot_change_site_wide_roles_or_groups(testapp, site, field):
    changes = {"groupId": site.other.site_id} if field == "groupId" else {field: True}
    response = put_user(testapp, site, site.group_admin, site.member, changes, status=403)
    assert_api_error(response, 403, "AccessDenied", field=field)


def test_a_group_admin_cannot_disable_a_site_admin_of_their_group(testapp, site, dbsession):
    site_admin_in_lab = make_user(dbsession, group=site.lab, site_admin=True)
    response = put_user(
        testapp, site, site.group_admin, site_admin_in_lab, {"enabled": False}, status=403
    )
    assert_api_error(response, 403, "AccessDenied", field="enabled")
    assert site_admin_in_lab.enabled is True


def test_a_group_admin_cannot_change_users_of_other_groups(testapp, site):
    response = put_user(
        testapp, site, site.group_admin, site.outsider, {"name": "Hijacked"}, status=404
    )
    assert_api_error(response, 404, "NotFound")


def test_a_site_reader_cannot_rename_others(testapp, site):
    response = put_user(testapp, site, site.reader, site.member, {"name": "Read Only"}, status=403)
    assert_api_error(response, 403, "AccessDenied", field="name")


def test_nobody_disables_themselves(testapp, site):
    response = put_user(testapp, site, site.admin, site.admin, {"enabled": False}, status=403)
    assert_api_error(response, 403, "AccessDenied", field="enabled")


def test_a_site_admin_cannot_revoke_their_own_site_admin(testapp, site):
    response = put_user(testapp, site, site.admin, site.admin, {"siteAdmin": False}, status=403)
    assert_api_error(response, 403, "AccessDenied", field="siteAdmin")
    assert site.admin.site_admin is True


def test_a_site_admin_changes_every_role_of_another_user(testapp, site):
    put_user(
        testapp,
        site,
        site.admin,
        site.member,
        {"siteAdmin": True, "siteRead": True, "groupAdmin": True, "enabled": False},
    )
    member = site.member
    assert member.site_admin and member.site_read and member.group_admin
    assert member.enabled is False


@pytest.mark.parametrize("by", ["uuid", "site"])
def test_a_site_admin_moves_a_user_to_another_group_by_uuid_or_site_id(testapp, site, by):
    group_id = str(site.other.uuid) if by == "uuid" else site.other.site_id
    put_user(testapp, site, site.admin, site.member, {"groupId": group_id})
    assert site.member.group_id == site.other.id


def test_a_group_admin_moved_to_another_group_is_no_admin_there(testapp, site):
    put_user(testapp, site, site.admin, site.member, {"groupAdmin": True})
    put_user(testapp, site, site.admin, site.member, {"groupId": site.other.site_id})
    assert site.member.group_admin is False


def test_a_move_may_grant_group_admin_in_the_new_group(testapp, site):
    put_user(testapp, site, site.admin, site.member, {"groupAdmin": True})
    changes = {"groupId": site.other.site_id, "groupAdmin": True}
    put_user(testapp, site, site.admin, site.member, changes)
    assert site.member.group_admin is True


def test_moving_a_user_to_an_unknown_group_is_refused(testapp, site):
    response = put_user(
        testapp, site, site.admin, site.member, {"groupId": "DMG-99999999"}, status=400
    )
    assert_api_error(response, 400, "ValidationError", field="groupId")
    assert site.member.group_id == site.lab.id


def test_unknown_fields_are_refused(testapp, site):
    response = put_user(testapp, site, site.admin, site.member, {"email": "x@y.org"}, status=400)
    assert_api_error(response, 400, "ValidationError")


def test_changing_an_unknown_user_is_not_found(testapp, site):
    response = testapp.put_json(
        "/api/v1/users/DMU-99999999",
        {"name": "Ghost"},
        headers=site.headers(site.admin),
        status=404,
    )
    assert_api_error(response, 404, "NotFound")


def test_a_disabled_users_api_key_stops_working(testapp, site):
    member_headers = site.headers(site.member)
    testapp.get(user_url(site.member), headers=member_headers)
    put_user(testapp, site, site.group_admin, site.member, {"enabled": False})
    assert_api_error(testapp.get(user_url(site.member), headers=member_headers, status=401), 401)


def test_re_enabling_a_user_lets_their_api_key_work_again(testapp, site):
    site.member.enabled = False
    member_headers = site.headers(site.member)
    put_user(testapp, site, site.group_admin, site.member, {"enabled": True})
    assert testapp.get(user_url(site.member), headers=member_headers).status_int == 200


# Sessions end when the group changes or the account is disabled.


@pytest.fixture
def member_session(testapp, site):
    """``testapp`` now carries a logged-in session of the member."""
    login(testapp, site.member.email, DEFAULT_PASSWORD)
    testapp.get(user_url(site.member))
    return testapp


def test_moving_a_user_to_another_group_ends_their_sessions(member_session, site):
    put_user(member_session, site, site.admin, site.member, {"groupId": site.other.site_id})
    assert_api_error(member_session.get(user_url(site.member), status=401), 401)


def test_disabling_a_user_ends_their_sessions(member_session, site):
    put_user(member_session, site, site.group_admin, site.member, {"enabled": False})
    assert_api_error(member_session.get(user_url(site.member), status=401), 401)


def test_a_change_made_with_the_session_cookie_needs_the_csrf_token(member_session, site):
    url = user_url(site.member)
    response = member_session.put_json(url, {"name": "Forged"}, status=400)
    assert_api_error(response, 400)
    assert site.member.fullname == "Mia Member"
    headers = {"X-CSRF-Token": csrf_token(member_session)}
    member_session.put_json(url, {"name": "Mia Myself"}, headers=headers, status=204)
    assert site.member.fullname == "Mia Myself"


def test_renaming_a_user_keeps_their_sessions(member_session, site):
    put_user(member_session, site, site.group_admin, site.member, {"name": "Mia Still Here"})
    assert member_session.get(user_url(site.member)).json["name"] == "Mia Still Here"


# GET /users


def list_users(testapp, site, actor, query: str = "", *, status=200):
    return testapp.get(f"/api/v1/users{query}", headers=site.headers(actor), status=status)


def names(response) -> list[str]:
    return [item["name"] for item in response.json]


def test_listing_users_needs_credentials(testapp, site):
    assert_api_error(testapp.get("/api/v1/users", status=401), 401)


@pytest.mark.parametrize("role", ["member", "reader"])
def test_users_who_administer_nobody_cannot_list_users(testapp, site, role):
    response = list_users(testapp, site, getattr(site, role), status=403)
    assert_api_error(response, 403, "AccessDenied")


def test_a_site_admin_lists_every_user_ordered_by_name(testapp, site):
    response = list_users(testapp, site, site.admin)
    assert names(response) == [
        "Ada Admin",
        "Gus Groupadmin",
        "Mia Member",
        "Otto Outsider",
        "Rita Reader",
    ]
    assert response.headers["X-Total-Count"] == "5"


def test_the_list_shows_what_admins_need_to_manage_users(testapp, site):
    response = list_users(testapp, site, site.admin, "?search=mia@")
    assert response.json == [
        {
            "id": {"uuid": str(site.member.uuid), "site": site.member.site_id},
            "name": "Mia Member",
            "email": "mia@example.org",
            "groupId": {"uuid": str(site.lab.uuid), "site": site.lab.site_id},
            "groupName": "Lab of Users",
            "groupAdmin": False,
            "siteAdmin": False,
            "siteRead": False,
            "enabled": True,
            "lockedUntil": None,
            "secondFactor": False,
            "lastLogin": None,
            "lastApiUse": None,
        }
    ]


def test_the_list_shows_when_a_lockout_ends(testapp, site):
    site.member.locked_until = datetime.now(UTC) + timedelta(minutes=10)
    site.outsider.locked_until = datetime.now(UTC) - timedelta(minutes=10)
    listed = {item["name"]: item for item in list_users(testapp, site, site.admin).json}
    shown = datetime.fromisoformat(listed["Mia Member"]["lockedUntil"])
    assert shown == site.member.locked_until
    # A lockout that has ended is no lockout.
    assert listed["Otto Outsider"]["lockedUntil"] is None


def test_a_group_admin_lists_only_their_group(testapp, site):
    response = list_users(testapp, site, site.group_admin)
    assert names(response) == ["Gus Groupadmin", "Mia Member"]
    assert response.headers["X-Total-Count"] == "2"


def test_the_list_comes_in_pages_with_the_total_in_a_header(testapp, site):
    first = list_users(testapp, site, site.admin, "?limit=2")
    second = list_users(testapp, site, site.admin, "?limit=2&offset=2")
    last = list_users(testapp, site, site.admin, "?limit=2&offset=4")
    assert names(first) == ["Ada Admin", "Gus Groupadmin"]
    assert names(second) == ["Mia Member", "Otto Outsider"]
    assert names(last) == ["Rita Reader"]
    assert {page.headers["X-Total-Count"] for page in (first, second, last)} == {"5"}


def test_a_page_past_the_end_is_empty(testapp, site):
    response = list_users(testapp, site, site.admin, "?offset=100")
    assert response.json == []
    assert response.headers["X-Total-Count"] == "5"


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1001", "?offset=-1", "?limit=many"])
def test_bad_page_parameters_are_refused(testapp, site, query):
    assert_api_error(list_users(testapp, site, site.admin, query, status=400), 400)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("mIA", ["Mia Member"]),
        ("MIA@EXAMPLE", ["Mia Member"]),
        ("out", ["Otto Outsider"]),
        ("nobody-has-this", []),
        ("%", []),
    ],
)
def test_search_matches_name_or_email_regardless_of_case(testapp, site, search, expected):
    response = list_users(testapp, site, site.admin, f"?search={search.replace('%', '%25')}")
    assert names(response) == expected
    assert response.headers["X-Total-Count"] == str(len(expected))


def test_search_matches_the_site_id(testapp, site):
    response = list_users(testapp, site, site.admin, f"?search={site.reader.site_id.lower()}")
    assert names(response) == ["Rita Reader"]


def test_a_group_admin_searches_only_within_their_group(testapp, site):
    assert names(list_users(testapp, site, site.group_admin, "?search=gus")) == ["Gus Groupadmin"]
    outside = list_users(testapp, site, site.group_admin, "?search=otto")
    assert outside.json == []
    assert outside.headers["X-Total-Count"] == "0"


def test_a_bad_query_parameter_names_itself(testapp, site):
    response = testapp.get("/api/v1/users?limit=0", headers=site.headers(site.admin), status=400)
    assert_api_error(response, 400, "ValidationError", field="limit")


# GET /users: filters, orders, last login and API use


@pytest.mark.parametrize("by", ["uuid", "site"])
def test_a_site_admin_lists_the_members_of_one_group(testapp, site, by):
    group = str(site.lab.uuid) if by == "uuid" else site.lab.site_id
    response = list_users(testapp, site, site.admin, f"?groupId={group}")
    assert names(response) == ["Gus Groupadmin", "Mia Member"]
    assert response.headers["X-Total-Count"] == "2"


def test_a_group_admin_asking_for_another_group_finds_nobody(testapp, site):
    response = list_users(testapp, site, site.group_admin, f"?groupId={site.other.site_id}")
    assert response.json == []
    assert response.headers["X-Total-Count"] == "0"


def test_an_unknown_group_has_no_members(testapp, site):
    assert list_users(testapp, site, site.admin, "?groupId=DMG-99999999").json == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?role=siteAdmin", ["Ada Admin"]),
        ("?role=groupAdmin", ["Gus Groupadmin"]),
        ("?role=siteRead", ["Rita Reader"]),
        ("?role=disabled", ["Otto Outsider"]),
        ("?role=enabled&role=siteRead", ["Rita Reader"]),
        ("?role=disabled&role=siteRead", []),
    ],
)
def test_users_are_filtered_by_every_role_given(testapp, site, query, expected):
    site.outsider.enabled = False
    assert names(list_users(testapp, site, site.admin, query)) == expected


def test_an_unknown_role_or_order_is_refused_naming_the_parameter(testapp, site):
    response = list_users(testapp, site, site.admin, "?role=king", status=400)
    assert_api_error(response, 400, "ValidationError", field="role")
    response = list_users(testapp, site, site.admin, "?sort=shoeSize", status=400)
    assert_api_error(response, 400, "ValidationError", field="sort")


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-name", ["Rita Reader", "Otto Outsider", "Mia Member", "Gus Groupadmin", "Ada Admin"]),
        ("group", ["Gus Groupadmin", "Mia Member", "Ada Admin", "Otto Outsider", "Rita Reader"]),
        ("email", ["Rita Reader", "Otto Outsider", "Gus Groupadmin", "Ada Admin", "Mia Member"]),
    ],
)
def test_users_are_listed_in_the_order_asked_for(testapp, site, sort, expected):
    for user, email in [(site.reader, "a"), (site.outsider, "b"), (site.group_admin, "c")]:
        user.email = f"{email}@example.org"
    site.admin.email = "d@example.org"
    assert names(list_users(testapp, site, site.admin, f"?sort={sort}")) == expected


def test_users_who_never_logged_in_come_last_in_either_order(testapp, site):
    now = datetime.now(UTC)
    site.member.last_login = now - timedelta(days=2)
    site.reader.last_login = now - timedelta(days=1)
    newest = names(list_users(testapp, site, site.admin, "?sort=-lastLogin"))
    oldest = names(list_users(testapp, site, site.admin, "?sort=lastLogin"))
    assert newest[:2] == ["Rita Reader", "Mia Member"]
    assert oldest[:2] == ["Mia Member", "Rita Reader"]


def test_the_list_shows_the_last_api_use(testapp, site):
    before = datetime.now(UTC)
    testapp.get("/api/v1/rpc/whoami", headers=site.headers(site.member))
    listed = {item["name"]: item for item in list_users(testapp, site, site.admin).json}
    assert datetime.fromisoformat(listed["Mia Member"]["lastApiUse"]) >= before
    assert listed["Otto Outsider"]["lastApiUse"] is None


def test_the_last_api_use_is_written_at_most_every_few_minutes(testapp, site):
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    site.member.last_api_use = a_minute_ago
    testapp.get("/api/v1/rpc/whoami", headers=site.headers(site.member))
    assert site.member.last_api_use == a_minute_ago


def test_concurrent_first_requests_of_one_user_all_succeed(app, committed_db):
    # A script's threads sharing one key, all starting at once: noting the user's API
    # use must not make any of them lose a race over the user's row (409), even with
    # no replay of a lost race to hide it.
    user = make_user(committed_db)
    key = make_api_key(committed_db, user)
    committed_db.commit()
    unreplayed = make_app({**TEST_INI, "retry.attempts": "1"}, dbengine=app.registry["dbengine"])
    count = 8
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    before = datetime.now(UTC)

    def first_request() -> None:
        client = committing_client(unreplayed)
        barrier.wait()
        response = client.get("/api/v1/rpc/whoami", headers=api_headers(key), expect_errors=True)
        statuses.append(response.status_int)

    threads = [threading.Thread(target=first_request) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * count
    committed_db.rollback()  # a fresh snapshot: the use is written in a transaction apart
    noted = committed_db.get(User, user.id).last_api_use
    assert noted is not None and noted >= before


def test_only_an_api_call_that_succeeds_is_noted_as_api_use(app, committed_db):
    user = make_user(committed_db)
    key = make_api_key(committed_db, user)
    committed_db.commit()
    client = committing_client(app)
    client.get("/api/v1/metadatasets/DMR-99999999", headers=api_headers(key), status=404)
    committed_db.rollback()  # a fresh snapshot: the use is written in a transaction apart
    assert committed_db.get(User, user.id).last_api_use is None
    client.get("/api/v1/rpc/whoami", headers=api_headers(key))
    committed_db.rollback()  # a fresh snapshot: the use is written in a transaction apart
    assert committed_db.get(User, user.id).last_api_use is not None


def test_a_login_on_the_pages_is_the_last_login(testapp, site):
    before = datetime.now(UTC)
    login(testapp, site.member.email, DEFAULT_PASSWORD)
    listed = {item["name"]: item for item in list_users(testapp, site, site.admin).json}
    assert datetime.fromisoformat(listed["Mia Member"]["lastLogin"]) >= before
    # Using the API is no login.
    assert listed["Ada Admin"]["lastLogin"] is None


def test_a_failed_login_is_no_last_login(testapp, site):
    login(testapp, site.member.email, "Wrong-Password-1", status=400)
    assert site.member.last_login is None


def test_whoami_and_the_user_answer_of_1x_clients_keep_their_keys(testapp, site):
    # DataMeta 1.x's client refuses unknown keys: the new facts live in the list only.
    whoami = testapp.get("/api/v1/rpc/whoami", headers=site.headers(site.admin)).json
    assert set(whoami) == {"id", "name", "groupAdmin", "siteAdmin", "siteRead", "email", "group"}
    shown = testapp.get(user_url(site.member), headers=site.headers(site.admin)).json
    assert set(shown) == USER_RESPONSE_KEYS
