"""Who may do what: the capability matrix, as pure predicates.

Every decision about roles is made here and nowhere else, so that the API and
the pages agree and one table test proves the whole matrix. The predicates take
anything with the attributes of ``Actor``; they import neither Pyramid nor the
database.

Two kinds of question: ``can_view_*`` (and ``can_read_*``) decide whether an
object exists for the actor at all; one they may not see answers exactly like
an unknown id (404, see ``datameta.logic.ids.get_visible``). The others decide
what an actor who sees the object may do with it; a refusal there is 403.
"""

from __future__ import annotations

from typing import Protocol


class Actor(Protocol):
    """A user as far as permissions are concerned."""

    id: int
    group_id: int
    enabled: bool
    site_admin: bool
    group_admin: bool
    site_read: bool


def _admin_of_group(actor: Actor, group_id: int) -> bool:
    return actor.enabled and actor.group_admin and actor.group_id == group_id


def is_site_admin(actor: Actor | None) -> bool:
    return actor is not None and actor.enabled and actor.site_admin


# Users


def can_view_user(actor: Actor, target: Actor) -> bool:
    """See a user's name and group: oneself, admins of the user's group, site readers and admins."""
    return actor.enabled and (
        actor.id == target.id
        or _admin_of_group(actor, target.group_id)
        or actor.site_read
        or actor.site_admin
    )


def can_view_user_details(actor: Actor, target: Actor) -> bool:
    """See a user's email and role flags: site admins and admins of the user's group."""
    return is_site_admin(actor) or _admin_of_group(actor, target.group_id)


def can_list_users(actor: Actor) -> bool:
    """List users at all (site admins: everyone; group admins: their group)."""
    return is_site_admin(actor) or (actor.enabled and actor.group_admin)


def can_rename_user(actor: Actor, target: Actor) -> bool:
    return actor.enabled and (
        actor.id == target.id or is_site_admin(actor) or _admin_of_group(actor, target.group_id)
    )


def can_set_group_admin(actor: Actor, target: Actor) -> bool:
    return is_site_admin(actor) or _admin_of_group(actor, target.group_id)


def can_set_enabled(actor: Actor, target: Actor) -> bool:
    """Enable or disable an account; nobody disables themselves, group admins not site admins."""
    if actor.id == target.id:
        return False
    if is_site_admin(actor):
        return True
    return _admin_of_group(actor, target.group_id) and not target.site_admin


def can_change_group(actor: Actor, target: Actor) -> bool:
    return is_site_admin(actor)


def can_set_site_read(actor: Actor, target: Actor) -> bool:
    return is_site_admin(actor)


def can_set_site_admin(actor: Actor, target: Actor) -> bool:
    """Grant or revoke site admin; never one's own, so a site keeps at least one admin."""
    return is_site_admin(actor) and actor.id != target.id


def can_reset_second_factor(actor: Actor, target: Actor) -> bool:
    return is_site_admin(actor)


def can_unlock(actor: Actor, target: Actor) -> bool:
    """End a failed-login lockout: site admins, admins of the user's group."""
    return is_site_admin(actor) or _admin_of_group(actor, target.group_id)


def can_change_password(actor: Actor, target: Actor) -> bool:
    """Change a password knowing the old one: only one's own (others use a reset link)."""
    return actor.enabled and actor.id == target.id


def can_manage_api_keys(actor: Actor, owner: Actor) -> bool:
    """List and delete API keys: only one's own; not even site admins see others' keys."""
    return actor.enabled and actor.id == owner.id


def can_view_staged(actor: Actor, owner: Actor) -> bool:
    """Staged (not yet submitted) metadatasets and files: their owner only, whatever the roles."""
    return actor.enabled and actor.id == owner.id


# Groups


def can_view_group(actor: Actor, group_id: int) -> bool:
    return actor.enabled and (actor.group_id == group_id or actor.site_read or actor.site_admin)


def can_list_group_submissions(actor: Actor, group_id: int) -> bool:
    return actor.enabled and (actor.group_id == group_id or actor.site_read)


def can_rename_group(actor: Actor) -> bool:
    return is_site_admin(actor)


def can_create_group(actor: Actor) -> bool:
    return is_site_admin(actor)


def can_list_groups(actor: Actor) -> bool:
    """The list of all groups with their member counts (the registration form shows names only)."""
    return is_site_admin(actor)


# Registration requests


def can_answer_registration(actor: Actor, requested_group_id: int | None) -> bool:
    """Site admins answer every request; group admins those for their own group."""
    if is_site_admin(actor):
        return True
    return requested_group_id is not None and _admin_of_group(actor, requested_group_id)


def can_use_admin_page(actor: Actor) -> bool:
    return is_site_admin(actor) or (actor.enabled and actor.group_admin)


# Site configuration


def can_manage_site(actor: Actor) -> bool:
    """Metadata definitions, application settings and services."""
    return is_site_admin(actor)


# Services


def can_view_service(actor: Actor, assigned: bool) -> bool:
    """Site admins see every service; other users the services they are assigned to."""
    return is_site_admin(actor) or (actor.enabled and assigned)


def can_run_service(actor: Actor, assigned: bool) -> bool:
    """Report a service's results: its assigned users only, site admins included."""
    return actor.enabled and assigned


# Data


def can_read_submitted(actor: Actor, submission_group_id: int) -> bool:
    """Submitted data: its group's members and site readers."""
    return actor.enabled and (actor.group_id == submission_group_id or actor.site_read)


def can_read_service_values(actor: Actor) -> bool:
    """Values filled by services are for site readers only."""
    return actor.enabled and actor.site_read


def can_ask_awaiting_service(actor: Actor, assigned: bool) -> bool:
    """Which sets a service has yet to report on: its own users (their work list), and readers
    of service values."""
    return can_read_service_values(actor) or (actor.enabled and assigned)


def can_list_all_groups_data(actor: Actor) -> bool:
    return actor.enabled and actor.site_read
