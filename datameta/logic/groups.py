"""Groups: look-up, creation and renaming."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datameta.errors import ErrorItem, Forbidden, ValidationFailed
from datameta.logic.ids import get_visible
from datameta.models import Group, User
from datameta.security import authz

MAX_NAME_LENGTH = 200
DUPLICATE_NAME = "A group with that name already exists."


def get_group(db: Session, actor: User, group_id: str) -> Group:
    """The group named by UUID or site id; NotFound, as if unknown, unless the actor may see it."""
    return get_visible(db, Group, group_id, lambda group: authz.can_view_group(actor, group.id))


def list_groups(db: Session, actor: User) -> list[tuple[Group, int]]:
    """Every group by name, with how many users it has (site admins only)."""
    if not authz.can_list_groups(actor):
        raise Forbidden("Only site admins may list the groups.")
    members = (
        select(User.group_id, func.count().label("members")).group_by(User.group_id).subquery()
    )
    rows = db.execute(
        select(Group, func.coalesce(members.c.members, 0))
        .outerjoin(members, members.c.group_id == Group.id)
        .order_by(func.lower(Group.name), Group.id)
    )
    return [(group, count) for group, count in rows]


def valid_group_name(db: Session, name: str, *, renaming: Group | None = None) -> str:
    """``name`` trimmed, or ValidationFailed (field ``name``) if blank, too long or taken.

    Names are unique regardless of case, so that "Lab A" and "lab a" are not two groups.
    """
    name = name.strip()
    if not name:
        message = "The name must not be blank."
    elif len(name) > MAX_NAME_LENGTH:
        message = f"The name must not be longer than {MAX_NAME_LENGTH} characters."
    else:
        query = select(Group.id).where(func.lower(Group.name) == name.lower())
        if renaming is not None:
            query = query.where(Group.id != renaming.id)
        if db.scalar(query.limit(1)) is None:
            return name
        message = DUPLICATE_NAME
    raise ValidationFailed([ErrorItem(message=message, field="name")])


def create_group(db: Session, actor: User, name: str) -> Group:
    """A new group (site admins only)."""
    if not authz.can_create_group(actor):
        raise Forbidden("Only site admins may create groups.")
    group = Group(name=valid_group_name(db, name))
    db.add(group)
    # The site id is assigned at flush; the caller answers with it.
    db.flush()
    return group


def rename_group(db: Session, actor: User, group_id: str, name: str) -> Group:
    """Give a group a new name (site admins only)."""
    if not authz.can_rename_group(actor):
        raise Forbidden("Only site admins may rename groups.")
    group = get_group(db, actor, group_id)
    group.name = valid_group_name(db, name, renaming=group)
    return group
