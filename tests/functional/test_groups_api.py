"""POST /groups, GET /groups/{id} and PUT /groups/{id}."""

from __future__ import annotations

import pytest

from tests.factories import make_api_key, make_group, make_user
from tests.helpers import api_headers, assert_api_error

DUPLICATE = "A group with that name already exists."


@pytest.fixture
def lab(dbsession):
    return make_group(dbsession, "Proteomics Lab")


@pytest.fixture
def other(dbsession):
    return make_group(dbsession, "Genomics Lab")


def as_user(dbsession, group, **roles) -> dict[str, str]:
    """Headers of a new user of ``group`` with ``roles``."""
    return api_headers(make_api_key(dbsession, make_user(dbsession, group=group, **roles)))


@pytest.fixture
def admin(dbsession, other):
    return as_user(dbsession, other, site_admin=True)


# POST /groups


def test_creating_a_group_needs_credentials(testapp):
    response = testapp.post_json("/api/v1/groups", {"name": "Anonymous Lab"}, status=401)
    assert_api_error(response, 401)


def test_a_site_admin_creates_a_group(testapp, admin):
    response = testapp.post_json(
        "/api/v1/groups", {"name": "  Metabolomics Lab "}, headers=admin, status=201
    )
    assert set(response.json) == {"id", "name"}
    assert response.json["name"] == "Metabolomics Lab"
    assert set(response.json["id"]) == {"uuid", "site"}
    assert response.json["id"]["site"].startswith("DMG-")
    # The Location names the new group.
    shown = testapp.get(response.headers["Location"], headers=admin)
    assert shown.json == response.json


@pytest.mark.parametrize(
    "roles",
    [{}, {"group_admin": True}, {"site_read": True}],
    ids=["regular", "group admin", "site read"],
)
def test_only_site_admins_create_groups(testapp, dbsession, lab, roles):
    headers = as_user(dbsession, lab, **roles)
    response = testapp.post_json("/api/v1/groups", {"name": "New Lab"}, headers=headers, status=403)
    assert_api_error(response, 403, "AccessDenied")


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_new_group_needs_a_name(testapp, admin, blank):
    response = testapp.post_json("/api/v1/groups", {"name": blank}, headers=admin, status=400)
    assert_api_error(response, 400, "ValidationError", field="name")


def test_a_request_without_a_name_is_refused(testapp, admin):
    response = testapp.post_json("/api/v1/groups", {}, headers=admin, status=400)
    assert_api_error(response, 400, "ValidationError", field="name")


@pytest.mark.parametrize("name", ["Proteomics Lab", "PROTEOMICS lab"])
def test_group_names_are_unique_regardless_of_case(testapp, admin, lab, name):
    response = testapp.post_json("/api/v1/groups", {"name": name}, headers=admin, status=400)
    assert_api_error(response, 400, "ValidationError", field="name", message=DUPLICATE)


# GET /groups/{id}


def test_showing_a_group_needs_credentials(testapp, lab):
    assert_api_error(testapp.get(f"/api/v1/groups/{lab.uuid}", status=401), 401)


@pytest.mark.parametrize("by", ["uuid", "site"])
def test_members_see_their_group_by_uuid_or_site_id(testapp, dbsession, lab, by):
    headers = as_user(dbsession, lab)
    group_id = lab.uuid if by == "uuid" else lab.site_id
    response = testapp.get(f"/api/v1/groups/{group_id}", headers=headers)
    assert response.json == {
        "id": {"uuid": str(lab.uuid), "site": lab.site_id},
        "name": "Proteomics Lab",
    }


@pytest.mark.parametrize("roles", [{}, {"group_admin": True}], ids=["regular", "group admin"])
def test_other_groups_do_not_exist_for_members(testapp, dbsession, lab, other, roles):
    headers = as_user(dbsession, lab, **roles)
    response = testapp.get(f"/api/v1/groups/{other.site_id}", headers=headers, status=404)
    assert_api_error(response, 404, "NotFound")


@pytest.mark.parametrize("roles", [{"site_read": True}, {"site_admin": True}])
def test_site_readers_and_site_admins_see_every_group(testapp, dbsession, lab, other, roles):
    headers = as_user(dbsession, lab, **roles)
    response = testapp.get(f"/api/v1/groups/{other.site_id}", headers=headers)
    assert response.json["name"] == "Genomics Lab"


def test_an_unknown_group_is_not_found(testapp, admin):
    response = testapp.get("/api/v1/groups/DMG-99999999", headers=admin, status=404)
    assert_api_error(response, 404, "NotFound")


# PUT /groups/{id}


def test_renaming_a_group_needs_credentials(testapp, lab):
    response = testapp.put_json(f"/api/v1/groups/{lab.uuid}", {"name": "X"}, status=401)
    assert_api_error(response, 401)


@pytest.mark.parametrize("by", ["uuid", "site"])
def test_a_site_admin_renames_a_group(testapp, admin, lab, by):
    group_id = lab.uuid if by == "uuid" else lab.site_id
    testapp.put_json(
        f"/api/v1/groups/{group_id}", {"name": "Proteomics Core"}, headers=admin, status=204
    )
    assert lab.name == "Proteomics Core"


def test_a_group_is_renamed_to_another_spelling_of_its_own_name(testapp, admin, lab):
    testapp.put_json(
        f"/api/v1/groups/{lab.site_id}", {"name": "PROTEOMICS LAB"}, headers=admin, status=204
    )
    assert lab.name == "PROTEOMICS LAB"


@pytest.mark.parametrize(
    "roles",
    [{}, {"group_admin": True}, {"site_read": True}],
    ids=["regular", "group admin", "site read"],
)
def test_only_site_admins_rename_groups(testapp, dbsession, lab, roles):
    headers = as_user(dbsession, lab, **roles)
    response = testapp.put_json(
        f"/api/v1/groups/{lab.site_id}", {"name": "Ours Now"}, headers=headers, status=403
    )
    assert_api_error(response, 403, "AccessDenied")
    assert lab.name == "Proteomics Lab"


def test_renaming_to_a_taken_name_is_refused(testapp, admin, lab, other):
    response = testapp.put_json(
        f"/api/v1/groups/{lab.site_id}", {"name": "genomics lab"}, headers=admin, status=400
    )
    assert_api_error(response, 400, "ValidationError", field="name", message=DUPLICATE)


def test_renaming_to_a_blank_name_is_refused(testapp, admin, lab):
    response = testapp.put_json(
        f"/api/v1/groups/{lab.site_id}", {"name": " "}, headers=admin, status=400
    )
    assert_api_error(response, 400, "ValidationError", field="name")


def test_renaming_an_unknown_group_is_not_found(testapp, admin):
    response = testapp.put_json(
        "/api/v1/groups/DMG-99999999", {"name": "Ghost Lab"}, headers=admin, status=404
    )
    assert_api_error(response, 404, "NotFound")


# GET /groups


def test_listing_groups_needs_credentials(testapp):
    assert_api_error(testapp.get("/api/v1/groups", status=401), 401)


def test_a_site_admin_lists_every_group_with_its_member_count(
    testapp, dbsession, lab, other, admin
):
    make_user(dbsession, group=lab)
    make_user(dbsession, group=lab)
    empty = make_group(dbsession, "an empty lab")
    listed = testapp.get("/api/v1/groups", headers=admin).json
    ours = [
        item for item in listed if item["id"]["uuid"] in {str(g.uuid) for g in (lab, other, empty)}
    ]
    # By name, ignoring case; the admin is the one member of "Genomics Lab".
    assert ours == [
        {
            "id": {"uuid": str(empty.uuid), "site": empty.site_id},
            "name": "an empty lab",
            "memberCount": 0,
        },
        {
            "id": {"uuid": str(other.uuid), "site": other.site_id},
            "name": "Genomics Lab",
            "memberCount": 1,
        },
        {
            "id": {"uuid": str(lab.uuid), "site": lab.site_id},
            "name": "Proteomics Lab",
            "memberCount": 2,
        },
    ]


@pytest.mark.parametrize(
    ("group", "roles"),
    [
        ("lab", {}),
        ("lab", {"group_admin": True}),
        ("other", {"group_admin": True}),
        ("lab", {"site_read": True}),
    ],
    ids=["regular", "group admin of this group", "group admin of another", "site read"],
)
def test_only_site_admins_list_groups(testapp, dbsession, request, group, roles):
    headers = as_user(dbsession, request.getfixturevalue(group), **roles)
    assert_api_error(testapp.get("/api/v1/groups", headers=headers, status=403), 403)
