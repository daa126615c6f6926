"""HTML pages, server-rendered with Jinja2. Thin: they call datameta.logic and render."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.events import BeforeRender, subscriber

from datameta.logic.appsettings import load_app_settings
from datameta.logic.mails import Outbox
from datameta.logic.versions import API_VERSION, datameta_version
from datameta.mail import AfterCommitMailer
from datameta.mail.links import link_builder
from datameta.security.html import sanitize_html


def app_settings(request: Any) -> dict[str, Any]:
    return load_app_settings(request.dbsession)


def outbox(request: Any) -> Outbox:
    """What the logic needs to mail: the site's texts, links, and sending after commit."""
    return Outbox(
        texts=request.app_settings,
        links=link_builder(request.settings, request),
        mailer=AfterCommitMailer(request.registry["mailer"], request.tm),
    )


@subscriber(BeforeRender)
def add_page_globals(event: BeforeRender) -> None:
    """What every page's layout needs: the user, the site's texts, versions, CSRF token."""
    request = event.get("request")
    if request is None or not str(event.get("renderer_name", "")).endswith(".html"):
        return  # JSON answers need none of it (and must not touch the session)
    settings = request.app_settings
    event.setdefault("user", request.user)
    event.setdefault("page_title", settings.get("renderer_page_title", "DataMeta"))
    event.setdefault("logo_html", sanitize_html(settings.get("renderer_logo_html", "DataMeta")))
    event.setdefault("legal_notice_html", sanitize_html(settings.get("renderer_legal_notice", "")))
    event.setdefault("datameta_version", datameta_version())
    event.setdefault("api_version", API_VERSION)
    event.setdefault("csrf_token", request.session.get_csrf_token())
    event.setdefault("errors", {})


def includeme(config: Configurator) -> None:
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".html")
    config.add_jinja2_search_path("datameta:templates", name=".html")
    # Both the pages and the API use these.
    config.add_request_method(app_settings, "app_settings", reify=True)
    config.add_request_method(outbox, "outbox", reify=True)
    config.scan(".")
