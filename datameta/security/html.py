"""HTML that site admins write (logo, legal notice, user agreement), made safe to show."""

from __future__ import annotations

import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "a",
    "b",
    "br",
    "em",
    "i",
    "img",
    "p",
    "small",
    "span",
    "strong",
    "u",
    "ul",
    "ol",
    "li",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}


def sanitize_html(text: str) -> Markup:
    """Keep simple formatting and links; drop scripts, handlers, styles and everything else."""
    cleaned = nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return Markup(cleaned)  # noqa: S704 (cleaned by nh3 just above)
