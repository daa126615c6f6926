"""The registration rules in datameta.logic.registrations, against the real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from datameta.errors import Forbidden, NotFound, ValidationFailed
from datameta.logic import registrations
from datameta.logic.users import normalize_email
from datameta.models import Group, RegistrationRequest
from tests.factories import make_group, make_user


def register(db, **overrides):
    values = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "org_select": None,
        "org_create": False,
        "org_new_name": None,
        "check_user_agreement": False,
    }
    rules = {"user_agreement_text": "", "show_groups": True}
    for key in rules.keys() & overrides.keys():
        rules[key] = overrides.pop(key)
    values.update(overrides)
    return registrations.register(db, registrations.Application(**values), **rules)


def fields_of(failure: pytest.ExceptionInfo) -> set[str | None]:
    return {item.field for item in failure.value.items}


@pytest.mark.parametrize(
    "email",
    ["ada@example.org", "a.b+c@sub.example.co.uk", "ADA@EXAMPLE.ORG"],
)
def test_plausible_email_addresses_pass(email):
    assert registrations.is_valid_email(normalize_email(email))


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ada",
        "@example.org",
        "ada@",
        "ada@example",
        "ada@@example.org",
        "a da@example.org",
        "ada@exa mple.org",
        "x" * 250 + "@example.org",
    ],
)
def test_implausible_email_addresses_fail(email):
    assert not registrations.is_valid_email(email)


def test_a_registration_is_stored_with_a_lower_case_email_and_a_trimmed_name(dbsession):
    group = make_group(dbsession)

    registration = register(
        dbsession, name="  Ada Lovelace ", email=" ADA@example.org", org_select=str(group.uuid)
    )

    assert (registration.fullname, registration.email) == ("Ada Lovelace", "ada@example.org")
    assert registration.group is group


def test_every_problem_is_collected(dbsession):
    make_group(dbsession, "Taken")

    with pytest.raises(ValidationFailed) as failure:
        register(
            dbsession,
            name=" ",
            email="nope",
            org_create=True,
            org_new_name="taken",
            user_agreement_text="Terms",
        )

    assert fields_of(failure) == {"name", "email", "org_new_name", "check_user_agreement"}
    assert dbsession.scalar(sa.select(RegistrationRequest)) is None


def test_a_blank_user_agreement_needs_no_acceptance(dbsession):
    group = make_group(dbsession)

    register(dbsession, org_select=group.site_id, user_agreement_text="  \n")

    assert dbsession.scalar(sa.select(RegistrationRequest)).group_id == group.id


def test_hidden_groups_ask_for_an_id(dbsession):
    with pytest.raises(ValidationFailed) as failure:
        register(dbsession, org_select="", show_groups=False)

    assert [item.message for item in failure.value.items] == ["Please enter your group's id."]


def test_the_admins_to_notify_are_the_enabled_site_admins_and_that_groups_admins(dbsession):
    group, other = make_group(dbsession), make_group(dbsession)
    site_admin = make_user(dbsession, site_admin=True)
    make_user(dbsession, site_admin=True, enabled=False)
    lab_admin = make_user(dbsession, group=group, group_admin=True)
    make_user(dbsession, group=group, group_admin=True, enabled=False)
    make_user(dbsession, group=group)
    make_user(dbsession, group=other, group_admin=True)
    for_group = register(dbsession, org_select=group.site_id, email="one@example.org")
    for_new = register(
        dbsession, org_create=True, org_new_name="Brand New", email="two@example.org"
    )

    notified = registrations.admins_to_notify(dbsession, for_group)
    notified_for_new = registrations.admins_to_notify(dbsession, for_new)

    assert set(notified) == {site_admin, lab_admin}
    assert set(notified_for_new) == {site_admin}


def accept(dbsession, admin, registration, *, name="Ada", group_id=None, new_group_name=None):
    """``admin`` accepts the request as a regular member, with these answers."""
    answer = registrations.Acceptance(
        name=name, group_id=group_id, new_group_name=new_group_name, group_admin=False
    )
    return registrations.accept(dbsession, admin, str(registration.uuid), answer)


def test_a_failed_accept_changes_nothing(dbsession):
    admin = make_user(dbsession, site_admin=True)
    registration = register(dbsession, org_create=True, org_new_name="Fresh Lab")

    with pytest.raises(ValidationFailed) as failure:
        accept(dbsession, admin, registration, name="", new_group_name="Fresh Lab")

    assert fields_of(failure) == {"name"}
    dbsession.flush()
    assert dbsession.scalar(sa.select(Group).where(Group.name == "Fresh Lab")) is None
    assert dbsession.get(RegistrationRequest, registration.id) is not None


def test_accept_without_a_group_takes_the_one_asked_for(dbsession):
    admin = make_user(dbsession, site_admin=True)
    group = make_group(dbsession)
    registration = register(dbsession, org_select=group.site_id)

    user = accept(dbsession, admin, registration)

    assert user.group is group and user.pwhash is None


def test_an_unfinished_group_choice_is_refused(dbsession):
    admin = make_user(dbsession, site_admin=True)
    registration = register(dbsession, org_select=make_group(dbsession).site_id)

    for group_id, new_group_name, field in [("", None, "groupId"), (None, " ", "newGroupName")]:
        with pytest.raises(ValidationFailed) as failure:
            accept(dbsession, admin, registration, group_id=group_id, new_group_name=new_group_name)
        assert fields_of(failure) == {field}


def test_group_admins_list_and_answer_only_their_groups_requests(dbsession):
    group, other = make_group(dbsession), make_group(dbsession)
    admin = make_user(dbsession, group=group, group_admin=True)
    mine = register(dbsession, org_select=group.site_id, email="mine@example.org")
    theirs = register(dbsession, org_select=other.site_id, email="theirs@example.org")
    register(dbsession, org_create=True, org_new_name="New", email="new@example.org")

    assert registrations.list_requests(dbsession, admin) == [mine]
    assert registrations.assignable_groups(dbsession, admin) == [group]
    with pytest.raises(NotFound):
        registrations.reject(dbsession, admin, str(theirs.uuid))
    assert registrations.reject(dbsession, admin, str(mine.uuid)).email == "mine@example.org"


def test_regular_users_may_not_list_requests(dbsession):
    with pytest.raises(Forbidden):
        registrations.list_requests(dbsession, make_user(dbsession))


def test_unknown_requests_are_not_found(dbsession):
    admin = make_user(dbsession, site_admin=True)

    with pytest.raises(NotFound):
        registrations.reject(dbsession, admin, "00000000-0000-4000-8000-000000000000")
