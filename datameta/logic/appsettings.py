"""Application settings: read as typed values, changed from text by site admins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datameta.config import parse_bool
from datameta.errors import ErrorItem, Forbidden, ValidationFailed
from datameta.logic.ids import get_by_id
from datameta.logic.mails import PLACEHOLDERS, template_problem
from datameta.models import AppSetting, SettingType, User
from datameta.security import authz
from datameta.security.html import sanitize_html
from datameta.security.passwords import PasswordPolicy


@dataclass(frozen=True)
class LockoutPolicy:
    max_failed_attempts: int
    window_minutes: int
    duration_minutes: int


def load_app_settings(db: Session) -> dict[str, Any]:
    """Every application setting by key, typed, in one query."""
    return {setting.key: setting.value for setting in db.scalars(select(AppSetting))}


def password_policy(values: dict[str, Any]) -> PasswordPolicy:
    return PasswordPolicy(
        min_length=values["security_password_minimum_length"],
        min_uppercase=values["security_password_minimum_uppercase_characters"],
        min_lowercase=values["security_password_minimum_lowercase_characters"],
        min_digits=values["security_password_minimum_digits"],
        min_punctuation=values["security_password_minimum_punctuation_characters"],
    )


def lockout_policy(values: dict[str, Any]) -> LockoutPolicy:
    return LockoutPolicy(
        max_failed_attempts=values["security_max_failed_login_attempts"],
        window_minutes=values["security_lockout_window_minutes"],
        duration_minutes=values["security_lockout_duration_minutes"],
    )


PARSERS: dict[SettingType, Callable[[str], Any]] = {
    SettingType.INT: int,
    SettingType.FLOAT: float,
    SettingType.STRING: str,
    SettingType.BOOL: parse_bool,
    SettingType.DATE: date.fromisoformat,
    SettingType.TIME: time.fromisoformat,
}

FORMATS = {
    SettingType.INT: "a whole number",
    SettingType.FLOAT: "a number",
    SettingType.STRING: "text",
    SettingType.BOOL: "true or false",
    SettingType.DATE: "a date as YYYY-MM-DD",
    SettingType.TIME: "a time as HH:MM:SS",
}


def value_as_text(setting: AppSetting) -> str:
    value = setting.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, date | time) else str(value)


def list_app_settings(db: Session, actor: User) -> list[AppSetting]:
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may see the application settings.")
    return list(db.scalars(select(AppSetting).order_by(AppSetting.key)))


def update_app_setting(db: Session, actor: User, setting_id: str, text: str) -> AppSetting:
    """Set a setting from its text form, converted to the setting's type."""
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may change the application settings.")
    setting = get_by_id(db, AppSetting, setting_id)
    try:
        value = PARSERS[setting.value_type](text)
    except ValueError:
        raise ValidationFailed(
            [
                ErrorItem(
                    message=f"{setting.key} must be {FORMATS[setting.value_type]}.",
                    field="value",
                )
            ]
        ) from None
    if setting.value_type is SettingType.INT and value < 0:
        raise ValidationFailed(
            [ErrorItem(message=f"{setting.key} must not be negative.", field="value")]
        )
    if setting.key in PLACEHOLDERS:
        problem = template_problem(value, PLACEHOLDERS[setting.key])
        if problem is not None:
            raise ValidationFailed([ErrorItem(message=f"{setting.key} {problem}.", field="value")])
    setting.value = value
    return setting


# Settings that pages show as HTML (sanitized): their previews are sanitized the same way.
HTML_SETTINGS = frozenset({"renderer_logo_html", "renderer_legal_notice", "user_agreement"})
# What a mail preview fills in, one made-up value per placeholder.
SAMPLE_VALUES = {
    "fullname": "Jane Doe",
    "token_url": "https://datameta.example.org/setpass/0123456789abcdef",
    "expiry_minutes": 10,
    "req_fullname": "John Roe",
    "req_email": "john.roe@example.org",
    "req_group": "Example Lab",
    "req_url": "https://datameta.example.org/admin?showreq=00000000-0000-4000-8000-000000000000",
}


@dataclass(frozen=True)
class SettingPreview:
    """How a setting's value would show: a mail text filled in, or HTML as pages show it."""

    placeholders: list[str]
    text: str | None
    html: str | None


def preview_app_setting(db: Session, actor: User, key: str, value: str) -> SettingPreview:
    """Preview ``value`` for the setting ``key`` without saving it (site admins)."""
    if not authz.can_manage_site(actor):
        raise Forbidden("Only site admins may preview the application settings.")
    if db.scalar(select(AppSetting.id).where(AppSetting.key == key)) is None:
        raise ValidationFailed([ErrorItem(message=f"There is no setting {key}.", field="key")])
    if key in PLACEHOLDERS:
        allowed = PLACEHOLDERS[key]
        problem = template_problem(value, allowed)
        if problem is not None:
            raise ValidationFailed([ErrorItem(message=f"{key} {problem}.", field="value")])
        samples = {name: SAMPLE_VALUES[name] for name in allowed}
        return SettingPreview(sorted(allowed), value.format_map(samples), None)
    if key in HTML_SETTINGS:
        return SettingPreview([], None, str(sanitize_html(value)))
    return SettingPreview([], None, None)
