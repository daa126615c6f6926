"""The capability matrix of roles, proven predicate by predicate.

Each row of ``MATRIX`` reads like a row of the permissions table: a predicate of
``datameta.security.authz``, whom or what it is about (seen from the actor), and
whether each kind of actor may do it. The roles are additive flags on top of
the regular user; the disabled actor holds every role, to show that a disabled
account can do nothing at all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from datameta.security import authz

# -- The people ---------------------------------------------------------------------------

OWN_GROUP = 10
OTHER_GROUP = 20


@dataclass(frozen=True)
class Person:
    """A user as the predicates see one: plain data, no database."""

    id: int
    group_id: int
    enabled: bool = True
    site_admin: bool = False
    group_admin: bool = False
    site_read: bool = False


REGULAR = "regular user"
GROUP_ADMIN = "group admin"
SITE_READ = "site read"
SITE_ADMIN = "site admin"
DISABLED = "disabled (every role)"
ROLES = (REGULAR, GROUP_ADMIN, SITE_READ, SITE_ADMIN, DISABLED)

# Every actor is user 1 of the own group; only their flags differ.
_ACTOR = Person(id=1, group_id=OWN_GROUP)
ACTORS = {
    REGULAR: _ACTOR,
    GROUP_ADMIN: replace(_ACTOR, group_admin=True),
    SITE_READ: replace(_ACTOR, site_read=True),
    SITE_ADMIN: replace(_ACTOR, site_admin=True),
    DISABLED: replace(_ACTOR, enabled=False, site_admin=True, group_admin=True, site_read=True),
}

# -- What a predicate is about, seen from the actor ---------------------------------------

# Another user: found from the actor, since "self" is the actor in each role.
SELF = "self"
GROUP_MEMBER = "member of own group"
GROUP_SITE_ADMIN = "site admin in own group"
OTHER_MEMBER = "member of other group"
USERS: dict[str, Callable[[Person], Person]] = {
    SELF: lambda actor: actor,
    GROUP_MEMBER: lambda actor: Person(id=2, group_id=OWN_GROUP),
    GROUP_SITE_ADMIN: lambda actor: Person(id=3, group_id=OWN_GROUP, site_admin=True),
    OTHER_MEMBER: lambda actor: Person(id=4, group_id=OTHER_GROUP),
}

# A group, by id; a registration request may ask for a group that does not exist yet.
OWN = "own group"
OTHER = "other group"
NEW_GROUP = "new group"
GROUPS: dict[str, int | None] = {OWN: OWN_GROUP, OTHER: OTHER_GROUP, NEW_GROUP: None}

# A service, by whether the actor is one of its assigned users.
ASSIGNED = "service assigned to actor"
NOT_ASSIGNED = "service not assigned to actor"
SERVICES = {ASSIGNED: True, NOT_ASSIGNED: False}

# The predicate is about the actor alone.
ANYTHING = "-"


# -- The matrix ---------------------------------------------------------------------------

Y, N = True, False

# predicate                             about             regular group   site   site   disabled
#                                                         user    admin   read   admin
MATRIX = [
    # Users
    (authz.can_view_user,               SELF,             Y,      Y,      Y,     Y,     N),
    (authz.can_view_user,               GROUP_MEMBER,     N,      Y,      Y,     Y,     N),
    (authz.can_view_user,               GROUP_SITE_ADMIN, N,      Y,      Y,     Y,     N),
    (authz.can_view_user,               OTHER_MEMBER,     N,      N,      Y,     Y,     N),
    # Email and role flags: not even one's own (whoami shows those).
    (authz.can_view_user_details,       SELF,             N,      Y,      N,     Y,     N),
    (authz.can_view_user_details,       GROUP_MEMBER,     N,      Y,      N,     Y,     N),
    (authz.can_view_user_details,       OTHER_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_list_users,              ANYTHING,         N,      Y,      N,     Y,     N),
    (authz.can_rename_user,             SELF,             Y,      Y,      Y,     Y,     N),
    (authz.can_rename_user,             GROUP_MEMBER,     N,      Y,      N,     Y,     N),
    (authz.can_rename_user,             OTHER_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_set_group_admin,         SELF,             N,      Y,      N,     Y,     N),
    (authz.can_set_group_admin,         GROUP_MEMBER,     N,      Y,      N,     Y,     N),
    (authz.can_set_group_admin,         OTHER_MEMBER,     N,      N,      N,     Y,     N),
    # Nobody disables themselves; group admins do not disable site admins.
    (authz.can_set_enabled,             SELF,             N,      N,      N,     N,     N),
    (authz.can_set_enabled,             GROUP_MEMBER,     N,      Y,      N,     Y,     N),
    (authz.can_set_enabled,             GROUP_SITE_ADMIN, N,      N,      N,     Y,     N),
    (authz.can_set_enabled,             OTHER_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_change_group,            SELF,             N,      N,      N,     Y,     N),
    (authz.can_change_group,            GROUP_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_change_group,            OTHER_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_set_site_read,           SELF,             N,      N,      N,     Y,     N),
    (authz.can_set_site_read,           GROUP_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_set_site_read,           OTHER_MEMBER,     N,      N,      N,     Y,     N),
    # Nobody revokes their own site admin, so a site always keeps one.
    (authz.can_set_site_admin,          SELF,             N,      N,      N,     N,     N),
    (authz.can_set_site_admin,          GROUP_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_set_site_admin,          OTHER_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_reset_second_factor,     SELF,             N,      N,      N,     Y,     N),
    (authz.can_reset_second_factor,     GROUP_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_reset_second_factor,     OTHER_MEMBER,     N,      N,      N,     Y,     N),
    (authz.can_unlock,                  GROUP_MEMBER,     N,      Y,      N,     Y,     N),
    (authz.can_unlock,                  GROUP_SITE_ADMIN, N,      Y,      N,     Y,     N),
    (authz.can_unlock,                  OTHER_MEMBER,     N,      N,      N,     Y,     N),
    # Passwords and API keys: one's own only, whatever one's roles.
    (authz.can_change_password,         SELF,             Y,      Y,      Y,     Y,     N),
    (authz.can_change_password,         GROUP_MEMBER,     N,      N,      N,     N,     N),
    (authz.can_change_password,         OTHER_MEMBER,     N,      N,      N,     N,     N),
    (authz.can_manage_api_keys,         SELF,             Y,      Y,      Y,     Y,     N),
    (authz.can_manage_api_keys,         GROUP_MEMBER,     N,      N,      N,     N,     N),
    (authz.can_manage_api_keys,         OTHER_MEMBER,     N,      N,      N,     N,     N),
    # Staged data: its owner only, whatever the roles.
    (authz.can_view_staged,             SELF,             Y,      Y,      Y,     Y,     N),
    (authz.can_view_staged,             GROUP_MEMBER,     N,      N,      N,     N,     N),
    (authz.can_view_staged,             OTHER_MEMBER,     N,      N,      N,     N,     N),
    # Groups
    (authz.can_view_group,              OWN,              Y,      Y,      Y,     Y,     N),
    (authz.can_view_group,              OTHER,            N,      N,      Y,     Y,     N),
    (authz.can_list_group_submissions,  OWN,              Y,      Y,      Y,     Y,     N),
    (authz.can_list_group_submissions,  OTHER,            N,      N,      Y,     N,     N),
    (authz.can_rename_group,            ANYTHING,         N,      N,      N,     Y,     N),
    (authz.can_create_group,            ANYTHING,         N,      N,      N,     Y,     N),
    (authz.can_list_groups,             ANYTHING,         N,      N,      N,     Y,     N),
    # Registration requests and the admin page
    (authz.can_answer_registration,     OWN,              N,      Y,      N,     Y,     N),
    (authz.can_answer_registration,     OTHER,            N,      N,      N,     Y,     N),
    (authz.can_answer_registration,     NEW_GROUP,        N,      N,      N,     Y,     N),
    (authz.can_use_admin_page,          ANYTHING,         N,      Y,      N,     Y,     N),
    # Site configuration: metadata definitions, app settings, services
    (authz.can_manage_site,             ANYTHING,         N,      N,      N,     Y,     N),
    (authz.can_view_service,            ASSIGNED,         Y,      Y,      Y,     Y,     N),
    (authz.can_view_service,            NOT_ASSIGNED,     N,      N,      N,     Y,     N),
    (authz.can_run_service,             ASSIGNED,         Y,      Y,      Y,     Y,     N),
    (authz.can_run_service,             NOT_ASSIGNED,     N,      N,      N,     N,     N),
    (authz.is_site_admin,               ANYTHING,         N,      N,      N,     Y,     N),
    # Submitted data: site admins see other groups' data only if also site readers.
    (authz.can_read_submitted,          OWN,              Y,      Y,      Y,     Y,     N),
    (authz.can_read_submitted,          OTHER,            N,      N,      Y,     N,     N),
    (authz.can_read_service_values,     ANYTHING,         N,      N,      Y,     N,     N),
    (authz.can_ask_awaiting_service,    ASSIGNED,         Y,      Y,      Y,     Y,     N),
    (authz.can_ask_awaiting_service,    NOT_ASSIGNED,     N,      N,      Y,     N,     N),
    (authz.can_list_all_groups_data,    ANYTHING,         N,      N,      Y,     N,     N),
]  # fmt: skip


def _cases() -> list:
    """One test case per cell of the matrix."""
    return [
        pytest.param(
            predicate,
            role,
            about,
            allowed,
            id=f"{predicate.__name__}({about}) for {role}: {'yes' if allowed else 'no'}",
        )
        for predicate, about, *expected in MATRIX
        for role, allowed in zip(ROLES, expected, strict=True)
    ]


def decide(predicate: Callable[..., bool], actor: Person, about: str) -> bool:
    if about == ANYTHING:
        return predicate(actor)
    if about in USERS:
        return predicate(actor, USERS[about](actor))
    if about in SERVICES:
        return predicate(actor, SERVICES[about])
    return predicate(actor, GROUPS[about])


@pytest.mark.parametrize(("predicate", "role", "about", "expected"), _cases())
def test_the_capability_matrix(predicate, role, about, expected):
    assert decide(predicate, ACTORS[role], about) is expected


def test_the_matrix_covers_every_predicate():
    predicates = {
        name
        for name, function in inspect.getmembers(authz, inspect.isfunction)
        if function.__module__ == authz.__name__ and not name.startswith("_")
    }
    assert predicates == {predicate.__name__ for predicate, *_ in MATRIX}


def test_nobody_is_a_site_admin_without_logging_in():
    assert authz.is_site_admin(None) is False
