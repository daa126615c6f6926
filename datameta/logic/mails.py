"""Mails to users, with subjects and texts that site admins edit in the app settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyramid.request import Request

from datameta.mail import make_message, send_after_commit


class _KeepUnknown(dict):
    """Leaves a placeholder the template names but the mail does not fill as it is."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def site_url(request: Request) -> str:
    """The site's address for links in mails: the setting if given, else this request's."""
    return request.registry["datameta.settings"].public_url or request.application_url


def absolute_url(request: Request, route_name: str, **parts: Any) -> str:
    return site_url(request) + request.route_path(route_name, **parts)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown ones and stray braces stay as written."""
    try:
        return template.format_map(_KeepUnknown(values))
    except (ValueError, IndexError):  # an admin's template with unbalanced braces
        return template


def send_app_mail(
    request: Request,
    *,
    to: list[str],
    subject_key: str,
    template_key: str,
    values: Mapping[str, Any],
    bcc: list[str] | None = None,
) -> None:
    """Queue a mail built from app settings; it leaves only if the transaction commits."""
    texts = request.app_settings
    message = make_message(
        to=to,
        bcc=bcc,
        subject=fill(texts[subject_key], values),
        body=fill(texts[template_key], values),
    )
    send_after_commit(request, message)
