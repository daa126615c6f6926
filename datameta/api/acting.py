"""What most API views do: call a logic function as the requesting user.

Logic functions take the database and the actor first and, when they concern one
entity, its id next (``verb_noun(db, actor, entity_id, ...)``). Views pass the
request's session, user and the URL's ``{id}`` here instead of spelling out the
same three arguments each time; everything after them is checked as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from pyramid.request import Request
from sqlalchemy.orm import Session

from datameta.models import User

P = ParamSpec("P")
T = TypeVar("T")


def act(
    request: Request,
    action: Callable[Concatenate[Session, User, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``action(db, actor, ...)`` as the request's user."""
    return action(request.dbsession, request.user, *args, **kwargs)


def act_on(
    request: Request,
    action: Callable[Concatenate[Session, User, str, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``action(db, actor, entity_id, ...)`` as the request's user on the entity its URL names."""
    return action(request.dbsession, request.user, request.matchdict["id"], *args, **kwargs)
