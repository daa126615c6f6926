"""Users as admins see and change them: look-up, field-wise updates, the user list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from datameta.errors import ErrorItem, Forbidden, ValidationFailed
from datameta.logic.ids import find_by_id, get_visible
from datameta.models import Group, User
from datameta.security import authz


def normalize_email(text: str | None) -> str:
    """Addresses are compared and stored trimmed and in lower case."""
    return (text or "").strip().lower()


def find_user_by_email(db: Session, email: str) -> User | None:
    """The user with this email address, in any letter case, or None."""
    return db.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


MAX_NAME_LENGTH = 200

# The fields of a user update, each with the predicate that allows changing it.
FIELD_PERMISSIONS: dict[str, Callable[[User, User], bool]] = {
    "name": authz.can_rename_user,
    "groupId": authz.can_change_group,
    "groupAdmin": authz.can_set_group_admin,
    "siteAdmin": authz.can_set_site_admin,
    "siteRead": authz.can_set_site_read,
    "enabled": authz.can_set_enabled,
}
FLAG_ATTRIBUTES = {
    "groupAdmin": "group_admin",
    "siteAdmin": "site_admin",
    "siteRead": "site_read",
    "enabled": "enabled",
}


def get_user(db: Session, actor: User, user_id: str) -> User:
    """The user named by UUID or site id; NotFound also when the actor may not see them."""
    return get_visible(db, User, user_id, lambda user: authz.can_view_user(actor, user))


def staged_data_owner(db: Session, actor: User, user_id: str) -> User:
    """The user whose staged data is asked for: only they see it; for others it does not exist."""
    return get_visible(db, User, user_id, lambda owner: authz.can_view_staged(actor, owner))


def user_details_visible(actor: User, user: User) -> bool:
    """Whether ``actor`` may see the email and role flags of ``user``."""
    return authz.can_view_user_details(actor, user)


def _name_problems(name: str) -> list[ErrorItem]:
    if not name:
        return [ErrorItem(message="The name must not be blank.", field="name")]
    if len(name) > MAX_NAME_LENGTH:
        message = f"The name must not be longer than {MAX_NAME_LENGTH} characters."
        return [ErrorItem(message=message, field="name")]
    return []


def _requested_changes(
    db: Session, user: User, changes: Mapping[str, Any]
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """The fields whose value differs from the current one (new values), and what is invalid."""
    unknown = sorted(set(changes) - set(FIELD_PERMISSIONS))
    if unknown:
        raise ValidationFailed(
            [ErrorItem(message="This field cannot be changed.", field=name) for name in unknown]
        )
    differing: dict[str, Any] = {}
    problems: list[ErrorItem] = []
    if "name" in changes:
        name = str(changes["name"]).strip()
        if name != user.fullname:
            differing["name"] = name
            problems.extend(_name_problems(name))
    if "groupId" in changes:
        group = find_by_id(db, Group, str(changes["groupId"]))
        if group is None or group.id != user.group_id:
            differing["groupId"] = group
            if group is None:
                problems.append(ErrorItem(message="There is no such group.", field="groupId"))
    for field, attribute in FLAG_ATTRIBUTES.items():
        if field in changes and bool(changes[field]) != getattr(user, attribute):
            differing[field] = bool(changes[field])
    if "groupId" in differing:
        # Admin of the old group is no reason to administer the new one: a move
        # keeps group admin rights only when the same request asks for them.
        differing["groupAdmin"] = bool(changes.get("groupAdmin", False))
    return differing, problems


def update_user(db: Session, actor: User, user_id: str, changes: Mapping[str, Any]) -> User:
    """Change name, group, roles or enabled state; all or nothing, each field by its own rule.

    ``changes`` uses the API's field names. A field given with its current value
    is not a change and needs no permission. Moving a user to another group or
    disabling them ends every session of theirs; a move also ends group admin
    rights unless the same request grants them in the new group.
    """
    user = get_user(db, actor, user_id)
    differing, problems = _requested_changes(db, user, changes)
    denied = [field for field in differing if not FIELD_PERMISSIONS[field](actor, user)]
    if denied:
        raise Forbidden(
            [
                ErrorItem(
                    exception="AccessDenied",
                    message=f"You may not change {field} of this user.",
                    field=field,
                )
                for field in denied
            ]
        )
    if problems:
        raise ValidationFailed(problems)
    _apply(user, differing)
    return user


def _apply(user: User, differing: dict[str, Any]) -> None:
    if "name" in differing:
        user.fullname = differing["name"]
    if "groupId" in differing:
        # Both, so that group_id is right before the next flush too.
        user.group = differing["groupId"]
        user.group_id = differing["groupId"].id
    for field, attribute in FLAG_ATTRIBUTES.items():
        if field in differing:
            setattr(user, attribute, differing[field])
    # A session is valid only with the generation it started with: this ends them all.
    if "groupId" in differing or differing.get("enabled") is False:
        user.session_generation += 1


def list_users(
    db: Session, actor: User, *, search: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[User], int]:
    """One page of the users the actor administers, ordered by name, and how many match."""
    if not authz.can_list_users(actor):
        raise Forbidden("Only site admins and group admins may list users.")
    conditions = []
    if not authz.is_site_admin(actor):
        conditions.append(User.group_id == actor.group_id)
    if search and search.strip():
        term = search.strip()
        conditions.append(
            or_(
                User.fullname.icontains(term, autoescape=True),
                User.email.icontains(term, autoescape=True),
                User.site_id.icontains(term, autoescape=True),
            )
        )
    total = db.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    page = db.scalars(
        select(User)
        .where(*conditions)
        # The list shows each user's group: load it in the same query.
        .options(joinedload(User.group))
        .order_by(User.fullname, User.id)
        .limit(limit)
        .offset(offset)
    )
    return list(page), total
