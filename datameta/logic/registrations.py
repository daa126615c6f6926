"""Registration with admin approval: requests for an account, and the admins' answers.

Anybody may ask for an account; site admins and the admins of the chosen group
are told by mail. Accepting creates the user (and the group, if a new one was
asked for) without a password and mails a link to set one; rejecting tells the
applicant. Mails leave only once the transaction commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from datameta.errors import ErrorItem, Forbidden, ValidationFailed
from datameta.logic.groups import valid_group_name
from datameta.logic.ids import find_by_id, get_visible
from datameta.logic.mails import (
    REG_NOTIFY,
    REJECT,
    WELCOME_TOKEN,
    Outbox,
    mail_password_link,
    send_app_mail,
    token_lifetime_minutes,
)
from datameta.logic.passwords import issue_token
from datameta.logic.users import find_user_by_email, normalize_email
from datameta.models import Group, RegistrationRequest, TokenPurpose, User
from datameta.security import authz
from datameta.telemetry.logs import security_event

MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
# One @, something before it, a dot in the domain, no white space anywhere.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Application:
    """What an applicant asks for, as the registration form and the API take it."""

    name: str | None
    email: str | None
    org_select: str | None
    org_create: bool
    org_new_name: str | None
    check_user_agreement: bool

    @classmethod
    def of(
        cls, fields: Mapping[str, Any], *, org_create: bool, check_user_agreement: bool
    ) -> Application:
        """The application of the text fields of a form or a request body.

        Both name them alike: DataMeta 1.x's API takes what its registration form posts.
        The ticked boxes are read differently at each edge and given here.
        """
        texts = {name: fields.get(name) for name in APPLICATION_TEXT_FIELDS}
        return cls(**texts, org_create=org_create, check_user_agreement=check_user_agreement)


APPLICATION_TEXT_FIELDS = ("name", "email", "org_select", "org_new_name")


@dataclass(frozen=True)
class Acceptance:
    """An admin's answers when accepting a request: the name, the group and the role."""

    name: str | None
    group_id: str | None
    new_group_name: str | None
    group_admin: bool


@dataclass(frozen=True)
class Answered:
    """Who a rejected request came from, for the mail that tells them."""

    fullname: str
    email: str


def is_valid_email(email: str) -> bool:
    """A plausibility check only: whether the address works, only a mail can tell."""
    return len(email) <= MAX_EMAIL_LENGTH and EMAIL_PATTERN.fullmatch(email) is not None


def email_in_use(db: Session, email: str) -> bool:
    """Whether a user has this email address, in any letter case."""
    return find_user_by_email(db, email) is not None


def registration_pending(db: Session, email: str) -> bool:
    """Whether a request with this email address waits for an answer."""
    found = db.scalar(
        select(RegistrationRequest.id).where(func.lower(RegistrationRequest.email) == email.lower())
    )
    return found is not None


def _group_name_problems(db: Session, name: str, field: str) -> list[ErrorItem]:
    """What is wrong with ``name`` for a new group, reported for ``field``."""
    try:
        valid_group_name(db, name)
    except ValidationFailed as failed:
        return [ErrorItem(item.message, field=field) for item in failed.items]
    return []


def _name_problem(name: str, what: str) -> str | None:
    if not name:
        return f"Please enter {what}."
    if len(name) > MAX_NAME_LENGTH:
        return f"At most {MAX_NAME_LENGTH} characters, please."
    return None


def _email_problems(db: Session, email: str) -> list[str]:
    if not is_valid_email(email):
        return ["Please enter a valid email address."]
    if email_in_use(db, email):
        return ["An account with this email address exists already."]
    if registration_pending(db, email):
        return ["A registration request for this email address is waiting for an answer."]
    return []


def _group_choice(
    db: Session,
    *,
    org_select: str,
    org_create: bool,
    org_new_name: str,
    show_groups: bool,
) -> tuple[Group | None, list[ErrorItem]]:
    """The existing group asked for (None for a new one) and the problems with the choice."""
    if org_create:
        return None, _group_name_problems(db, org_new_name, "org_new_name")
    if not org_select:
        # Without the list of groups the applicant must know their group's id.
        message = "Please choose a group." if show_groups else "Please enter your group's id."
        return None, [ErrorItem(message, field="org_select")]
    group = find_by_id(db, Group, org_select)
    if group is None:
        message = "Please choose a group." if show_groups else "There is no group with this id."
        return None, [ErrorItem(message, field="org_select")]
    return group, []


def register(
    db: Session,
    application: Application,
    *,
    user_agreement_text: str,
    show_groups: bool,
) -> RegistrationRequest:
    """Record a request for an account, or raise ValidationFailed listing every problem."""
    name = (application.name or "").strip()
    email = normalize_email(application.email)
    new_group_name = (application.org_new_name or "").strip()
    org_create = application.org_create
    problems: list[ErrorItem] = []
    if problem := _name_problem(name, "your name"):
        problems.append(ErrorItem(problem, field="name"))
    problems += [ErrorItem(message, field="email") for message in _email_problems(db, email)]
    group, group_problems = _group_choice(
        db,
        org_select=(application.org_select or "").strip(),
        org_create=org_create,
        org_new_name=new_group_name,
        show_groups=show_groups,
    )
    problems += group_problems
    if user_agreement_text.strip() and not application.check_user_agreement:
        problems.append(
            ErrorItem("Please accept the user agreement.", field="check_user_agreement")
        )
    if problems:
        raise ValidationFailed(problems)
    registration = RegistrationRequest(
        fullname=name,
        email=email,
        group=group,
        new_group_name=new_group_name if org_create else None,
    )
    db.add(registration)
    db.flush()
    return registration


def requested_group_name(registration: RegistrationRequest) -> str:
    """The name of the existing group asked for, or of the new one."""
    if registration.group is not None:
        return registration.group.name
    return registration.new_group_name or ""


def admins_to_notify(db: Session, registration: RegistrationRequest) -> list[User]:
    """The enabled site admins, and the enabled admins of the group asked for."""
    authoritative: ColumnElement[bool] = User.site_admin.is_(True)
    if registration.group_id is not None:
        authoritative = or_(
            authoritative,
            User.group_admin.is_(True) & (User.group_id == registration.group_id),
        )
    query = select(User).where(User.enabled.is_(True), authoritative).order_by(User.id)
    return list(db.scalars(query))


def notify_admins(db: Session, outbox: Outbox, registration: RegistrationRequest) -> None:
    """Mail the admins who may answer ``registration`` a link to it (after commit)."""
    admins = admins_to_notify(db, registration)
    if not admins:
        return
    send_app_mail(
        outbox,
        REG_NOTIFY,
        # The admins must not see each other's addresses: they go in Bcc.
        to=[],
        bcc=sorted({admin.email for admin in admins}),
        values={
            "req_fullname": registration.fullname,
            "req_email": registration.email,
            "req_group": requested_group_name(registration),
            "req_url": outbox.links.url("admin", query={"showreq": str(registration.uuid)}),
        },
    )


def list_requests(db: Session, actor: User) -> list[RegistrationRequest]:
    """Pending requests the actor may answer (site admins: all; group admins: their group's)."""
    if not authz.can_use_admin_page(actor):
        raise Forbidden("Only site admins and group admins may see registration requests.")
    query = (
        select(RegistrationRequest)
        .options(joinedload(RegistrationRequest.group))
        .order_by(RegistrationRequest.created, RegistrationRequest.id)
    )
    if not authz.is_site_admin(actor):
        query = query.where(RegistrationRequest.group_id == actor.group_id)
    return [
        registration
        for registration in db.scalars(query)
        if authz.can_answer_registration(actor, registration.group_id)
    ]


def get_request(db: Session, actor: User, request_id: str) -> RegistrationRequest:
    """A pending request the actor may answer; NotFound when gone or not theirs to see.

    Admins see only the requests they may answer (as in ``list_requests``).
    """
    return get_visible(
        db,
        RegistrationRequest,
        request_id,
        lambda registration: authz.can_answer_registration(actor, registration.group_id),
        what="Registration request",
    )


def _target_group(
    db: Session,
    actor: User,
    registration: RegistrationRequest,
    *,
    group_id: str | None,
    new_group_name: str | None,
) -> tuple[Group | str | None, list[ErrorItem]]:
    """The group to accept into: an existing one, the name of a new one, or the one asked for."""
    # Neither named at all: the applicant's choice. A blank one is an unfinished choice.
    if group_id is None and new_group_name is None:
        if registration.group is not None:
            return registration.group, []
        new_group_name = registration.new_group_name
    group_id = (group_id or "").strip()
    if group_id and (new_group_name or "").strip():
        problem = "Choose an existing group or a new one, not both."
        return None, [ErrorItem(problem, field="newGroupName")]
    if group_id:
        group = find_by_id(db, Group, group_id)
        # Asked before "does it exist", so that a group admin learns nothing about other ids.
        if not authz.can_answer_registration(actor, group.id if group is not None else None):
            raise Forbidden("You may accept users into your own group only.")
        if group is None:
            return None, [ErrorItem("There is no group with this id.", field="groupId")]
        return group, []
    if new_group_name is None:
        return None, [ErrorItem("Please choose a group.", field="groupId")]
    if not authz.can_create_group(actor):
        raise Forbidden("Only site admins may create groups.")
    problems = _group_name_problems(db, new_group_name, "newGroupName")
    return (None, problems) if problems else (new_group_name.strip(), [])


def accept(db: Session, actor: User, request_id: str, answer: Acceptance) -> User:
    """Create the account asked for (and its group if new); the user has no password yet."""
    registration = get_request(db, actor, request_id)
    fullname = (answer.name or "").strip()
    problems: list[ErrorItem] = []
    if problem := _name_problem(fullname, "the full name"):
        problems.append(ErrorItem(problem, field="name"))
    if email_in_use(db, registration.email):
        problems.append(
            ErrorItem("An account with this email address exists already.", field="email")
        )
    target, group_problems = _target_group(
        db, actor, registration, group_id=answer.group_id, new_group_name=answer.new_group_name
    )
    problems += group_problems
    # Nothing is changed before every check passed: pages answer problems without raising.
    if problems:
        raise ValidationFailed(problems)
    group = Group(name=target) if isinstance(target, str) else target
    user = User(
        email=registration.email,
        fullname=fullname,
        pwhash=None,
        group=group,
        enabled=True,
        group_admin=answer.group_admin,
        site_admin=False,
        site_read=False,
    )
    db.add(user)
    db.delete(registration)
    db.flush()
    security_event(
        "registration_accepted",
        f"registration of {user.email} accepted by {actor.site_id}: account {user.site_id}",
        subject=user.site_id,
        email=user.email,
        group=group.site_id if group is not None else None,
    )
    return user


def reject(db: Session, actor: User, request_id: str) -> Answered:
    """Delete the request; return who asked, for the mail that tells them."""
    registration = get_request(db, actor, request_id)
    answered = Answered(fullname=registration.fullname, email=registration.email)
    db.delete(registration)
    db.flush()
    security_event(
        "registration_rejected",
        f"registration of {answered.email} rejected by {actor.site_id}",
        email=answered.email,
    )
    return answered


def mail_welcome(db: Session, outbox: Outbox, user: User) -> None:
    """Mail a new user the link to set their first password (after commit)."""
    minutes = token_lifetime_minutes(outbox)
    token = issue_token(db, user, TokenPurpose.PASSWORD_RESET, minutes)
    mail_password_link(outbox, WELCOME_TOKEN, user, token)


def mail_rejection(outbox: Outbox, answered: Answered) -> None:
    """Tell an applicant that their request was rejected (after commit)."""
    send_app_mail(outbox, REJECT, to=[answered.email], values={"fullname": answered.fullname})


def _all_groups(db: Session) -> list[Group]:
    """Every group, by name as people read it (case folded)."""
    return list(db.scalars(select(Group).order_by(func.lower(Group.name), Group.id)))


def assignable_groups(db: Session, actor: User) -> list[Group]:
    """The existing groups the actor may accept applicants into."""
    if authz.is_site_admin(actor):
        return _all_groups(db)
    own = db.get(Group, actor.group_id)
    return [own] if own is not None and authz.can_answer_registration(actor, own.id) else []


def registration_settings(db: Session, app_settings: dict) -> tuple[str, list[Group]]:
    """The user agreement (may be empty) and the groups to offer (none when hidden)."""
    groups: list[Group] = []
    if app_settings.get("registration_show_groups", True):
        groups = _all_groups(db)
    return app_settings.get("user_agreement", ""), groups


# What the API and the pages do, each in one call: the change and its mail.


def ask_for_account(
    db: Session,
    app_settings: Mapping[str, Any],
    outbox: Outbox,
    application: Application,
) -> RegistrationRequest:
    """Record a registration request under the site's rules and notify its admins."""
    registration = register(
        db,
        application,
        user_agreement_text=app_settings.get("user_agreement", ""),
        show_groups=app_settings.get("registration_show_groups", True),
    )
    notify_admins(db, outbox, registration)
    return registration


def accept_and_welcome(
    db: Session, actor: User, outbox: Outbox, request_id: str, answer: Acceptance
) -> User:
    """Accept a request as ``actor`` and mail the new user a set-password link."""
    user = accept(db, actor, request_id, answer)
    mail_welcome(db, outbox, user)
    return user


def reject_and_tell(db: Session, actor: User, outbox: Outbox, request_id: str) -> Answered:
    """Reject a request as ``actor`` and mail the applicant."""
    answered = reject(db, actor, request_id)
    mail_rejection(outbox, answered)
    return answered
