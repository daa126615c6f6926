"""Users as admins see and change them: look-up, field-wise updates, the user list."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from datameta.errors import ErrorItem, Forbidden, ValidationFailed
from datameta.logic.ids import find_by_id, get_visible, id_condition
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


# The filters of the user list by role: each a condition on the user's row.
ROLE_FILTERS = {
    "siteAdmin": User.site_admin.is_(True),
    "groupAdmin": User.group_admin.is_(True),
    "siteRead": User.site_read.is_(True),
    "enabled": User.enabled.is_(True),
    "disabled": User.enabled.is_(False),
}
# The orders of the user list; ties are broken by name, then id, so pages never overlap.
SORT_KEYS = {
    "name": User.fullname,
    "email": User.email,
    "siteId": User.site_id,
    "group": Group.name,
    "created": User.created,
    "lastLogin": User.last_login,
    "lastApiUse": User.last_api_use,
}


@dataclass(frozen=True)
class UserQuery:
    """What the user list is narrowed to and ordered by (API parameter names in comments)."""

    search: str | None = None  # search
    group_id: str | None = None  # groupId: UUID or site id
    roles: Sequence[str] = ()  # role: every one given must hold
    sort: str = "name"  # sort: a key of SORT_KEYS, "-" in front for descending
    limit: int = 50
    offset: int = 0


def _list_conditions(db: Session, actor: User, query: UserQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if not authz.is_site_admin(actor):
        conditions.append(User.group_id == actor.group_id)
    if query.search and query.search.strip():
        term = query.search.strip()
        conditions.append(
            or_(
                User.fullname.icontains(term, autoescape=True),
                User.email.icontains(term, autoescape=True),
                User.site_id.icontains(term, autoescape=True),
            )
        )
    if query.group_id is not None:
        # An unknown group, or one outside a group admin's reach, simply matches nobody.
        condition = id_condition(Group, query.group_id)
        group_ids = select(Group.id).where(condition) if condition is not None else None
        conditions.append(User.group_id.in_(group_ids) if group_ids is not None else false())
    conditions.extend(ROLE_FILTERS[role] for role in query.roles)
    return conditions


def list_users(db: Session, actor: User, query: UserQuery) -> tuple[list[User], int]:
    """One page of the users the actor administers, and how many match in all."""
    if not authz.can_list_users(actor):
        raise Forbidden("Only site admins and group admins may list users.")
    conditions = _list_conditions(db, actor, query)
    total = db.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    descending = query.sort.startswith("-")
    key = SORT_KEYS[query.sort.removeprefix("-")]
    # Users who never logged in (null) come last either way.
    order = key.desc().nulls_last() if descending else key.asc().nulls_last()
    page = db.scalars(
        select(User)
        .join(User.group)
        .where(*conditions)
        # The list shows each user's group: load it with the same join.
        .options(contains_eager(User.group))
        .order_by(order, User.fullname, User.id)
        .limit(query.limit)
        .offset(query.offset)
    )
    return list(page), total
