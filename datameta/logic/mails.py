"""Mails to users, with subjects and texts that site admins edit in the app settings.

Each mail fills a fixed set of ``{name}`` placeholders into its subject and
text. That set is the one rule for both saving a text (anything else is
refused) and sending it (a text stored otherwise, by an older version say, is
filled safely and logged instead of failing the page that sends it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Any, Protocol

from datameta.mail import Mailer, make_message
from datameta.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailKind:
    """One mail: the app settings holding its subject and text, and what they may name."""

    subject_key: str
    template_key: str
    placeholders: frozenset[str]


_TOKEN_MAIL = frozenset({"fullname", "token_url", "expiry_minutes"})
FORGOT_TOKEN = MailKind("subject_forgot_token", "template_forgot_token", _TOKEN_MAIL)
WELCOME_TOKEN = MailKind("subject_welcome_token", "template_welcome_token", _TOKEN_MAIL)
REJECT = MailKind("subject_reject", "template_reject", frozenset({"fullname"}))
REG_NOTIFY = MailKind(
    "subject_reg_notify",
    "template_reg_notify",
    frozenset({"req_fullname", "req_email", "req_group", "req_url"}),
)
MAIL_KINDS = (FORGOT_TOKEN, WELCOME_TOKEN, REJECT, REG_NOTIFY)

# The placeholders each mail text (an app setting) may use, by the setting's key.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    key: kind.placeholders for kind in MAIL_KINDS for key in (kind.subject_key, kind.template_key)
}


class Links(Protocol):
    """Absolute links to the site's pages (see datameta.mail.links)."""

    def url(
        self, route_name: str, *, query: Mapping[str, str] | None = None, **parts: str
    ) -> str: ...


@dataclass(frozen=True)
class Outbox:
    """What sending an app mail needs, handed over by the edge that handles the request."""

    texts: Mapping[str, Any]  # the app settings: subjects, texts, token lifetime
    links: Links
    mailer: Mailer  # sends once the transaction commits


def _shown(field: str, conversion: str | None, spec: str | None) -> str:
    return (
        "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    )


def template_problem(text: str, allowed: frozenset[str]) -> str | None:
    """What makes ``text`` unfit as a mail text with ``allowed`` placeholders; None if fit.

    Only ``{name}`` of an allowed name counts: attributes, indexes, numbers,
    conversions and format specs could leak data or build huge strings.
    """
    names = ", ".join("{" + name + "}" for name in sorted(allowed))
    try:
        fields = [
            (field, conversion, spec)
            for _, field, spec, conversion in Formatter().parse(text)
            if field is not None
        ]
    except ValueError:
        return "has a { or } that opens or closes no placeholder (write {{ or }} for a brace)"
    for field, conversion, spec in fields:
        if field not in allowed or conversion or spec:
            shown = _shown(field, conversion, spec)
            return f"has the placeholder {shown}; it may use {names or 'none'}"
    return None


def _fill_plainly(text: str, allowed: frozenset[str], values: Mapping[str, Any]) -> str:
    """Replace each ``{name}`` of an allowed name and leave everything else as written."""
    return re.sub(
        r"\{(\w+)\}",
        lambda match: str(values[match[1]]) if match[1] in allowed else match[0],
        text,
    )


def render(
    text: str, allowed: frozenset[str], values: Mapping[str, Any], *, key: str = "template"
) -> str:
    """``text`` with its placeholders filled; a text that breaks the rule is filled plainly."""
    problem = template_problem(text, allowed)
    if problem is None:
        return text.format_map(values)
    log.warning("the mail text %s %s; sending it with only its plain placeholders", key, problem)
    return _fill_plainly(text, allowed, values)


def send_app_mail(
    outbox: Outbox,
    kind: MailKind,
    *,
    to: list[str],
    values: Mapping[str, Any],
    bcc: list[str] | None = None,
) -> None:
    """Queue a mail built from the app settings; it leaves only if the transaction commits."""
    if set(values) != kind.placeholders:
        raise ValueError(f"{kind.template_key} fills {sorted(kind.placeholders)}, not {values}")
    subject = render(
        outbox.texts[kind.subject_key], kind.placeholders, values, key=kind.subject_key
    )
    body = render(outbox.texts[kind.template_key], kind.placeholders, values, key=kind.template_key)
    # A subject is one line: a line break would start another header.
    subject = " ".join(subject.split())
    outbox.mailer.send(make_message(to=to, bcc=bcc, subject=subject, body=body))


def token_lifetime_minutes(outbox: Outbox) -> int:
    return outbox.texts["security_password_token_expiry_minutes"]


def mail_password_link(outbox: Outbox, kind: MailKind, user: User, token: str) -> None:
    """Mail ``user`` the link that sets their password (a reset, or their first one)."""
    send_app_mail(
        outbox,
        kind,
        to=[user.email],
        values={
            "fullname": user.fullname,
            "token_url": outbox.links.url("setpass", token=token),
            "expiry_minutes": token_lifetime_minutes(outbox),
        },
    )
