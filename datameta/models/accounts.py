"""Groups, users and everything that authenticates them."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, HasSiteId, HasUuid, created_column


class Group(HasSiteId, Base):
    __tablename__ = "groups"
    site_id_entity = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    created: Mapped[datetime] = created_column()

    users: Mapped[list[User]] = relationship(back_populates="group")

    __table_args__ = (CheckConstraint("btrim(name) <> ''", name="name_not_blank"),)


class User(HasSiteId, Base):
    __tablename__ = "users"
    site_id_entity = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    fullname: Mapped[str] = mapped_column(Text)
    # None: the user has no usable password yet (set through a mailed link).
    pwhash: Mapped[str | None] = mapped_column(String(60))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True, server_default="true")
    site_admin: Mapped[bool] = mapped_column(default=False, server_default="false")
    group_admin: Mapped[bool] = mapped_column(default=False, server_default="false")
    site_read: Mapped[bool] = mapped_column(default=False, server_default="false")
    # Fernet token of the TOTP secret: encrypted at rest with datameta.tfa.encrypt_key.
    tfa_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A failed-login lockout ends by itself at this time; admins may end it early.
    locked_until: Mapped[datetime | None]
    # Bumped whenever existing sessions must end (password, group or enabled change).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # For admins judging whether an account is in use: the last complete login,
    # and the last request made with an API key (to a few minutes, see security/policy.py).
    last_login: Mapped[datetime | None]
    last_api_use: Mapped[datetime | None]
    created: Mapped[datetime] = created_column()

    group: Mapped[Group] = relationship(back_populates="users")

    __table_args__ = (
        Index("uq_users_email_lower", func.lower(email), unique=True),
        CheckConstraint("btrim(fullname) <> ''", name="fullname_not_blank"),
        CheckConstraint("position('@' in email) > 1", name="email_has_at"),
    )


class ApiKey(HasUuid, Base):
    __tablename__ = "apikeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(Text)
    expires: Mapped[datetime | None]
    created: Mapped[datetime] = created_column()

    user: Mapped[User] = relationship()


class TokenPurpose(enum.Enum):
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a purpose, not a password)
    TFA_SETUP = "tfa_setup"


class PasswordToken(Base):
    """A one-time token mailed to a user: set a password, or enrol a second factor."""

    __tablename__ = "passwordtokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, name="tokenpurpose", values_callable=lambda e: [m.value for m in e])
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires: Mapped[datetime]
    created: Mapped[datetime] = created_column()

    user: Mapped[User] = relationship()


class UsedPassword(Base):
    """Every password a user ever set, as a bcrypt hash, so none is used twice."""

    __tablename__ = "usedpasswords"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pwhash: Mapped[str] = mapped_column(String(60))
    created: Mapped[datetime] = created_column()


class LoginAttempt(Base):
    """A failed authentication of a known user, counted for the lockout."""

    __tablename__ = "loginattempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    timestamp: Mapped[datetime] = created_column()

    __table_args__ = (Index("ix_loginattempts_user_time", "user_id", "timestamp"),)


class RegistrationRequest(HasUuid, Base):
    __tablename__ = "regrequests"

    id: Mapped[int] = mapped_column(primary_key=True)
    fullname: Mapped[str] = mapped_column(Text)
    email: Mapped[str] = mapped_column(Text)
    # Either an existing group or the name of a group to create on acceptance.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    new_group_name: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = created_column()

    group: Mapped[Group | None] = relationship()

    __table_args__ = (
        Index("uq_regrequests_email_lower", func.lower(email), unique=True),
        CheckConstraint("(group_id IS NULL) <> (new_group_name IS NULL)", name="one_group_choice"),
        CheckConstraint("btrim(fullname) <> ''", name="fullname_not_blank"),
    )
