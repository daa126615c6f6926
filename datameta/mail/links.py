"""Absolute links to the site's pages, for mails.

Links lead to the configured public address. Only where the settings allow it
(development) do they follow the address a request named: that address is
whatever its sender wrote in the Host or X-Forwarded-Host header.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request

from datameta.config import Settings


class LinkBuilder:
    """Absolute URLs of the app's routes under one base address."""

    def __init__(self, base_url: str, routes: IRoutesMapper) -> None:
        self.base_url = base_url.rstrip("/")
        self.routes = routes

    def url(self, route_name: str, *, query: Mapping[str, str] | None = None, **parts: str) -> str:
        """The address of ``route_name`` with its ``parts`` filled in, and ``query`` if given."""
        route = self.routes.get_route(route_name)
        if route is None:
            raise KeyError(f"no route named {route_name!r}")
        # The pattern's own quoting, and no script name: the base address includes it.
        path = route.generate(parts)
        return self.base_url + path + (f"?{urlencode(query)}" if query else "")


def link_builder(settings: Settings, request: Request) -> LinkBuilder:
    """Links for mails caused by ``request``: to the public URL, or else to the request's site."""
    if settings.public_url:
        base = settings.public_url
    elif settings.links_from_request:
        base = request.application_url
    else:  # parse_settings refuses to start like this; no link may come from a header
        raise RuntimeError("datameta.public_url is not set")
    return LinkBuilder(base, request.registry.getUtility(IRoutesMapper))
