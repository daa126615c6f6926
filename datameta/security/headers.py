"""Security headers on every response."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from pyramid.config import Configurator
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from datameta.config import Settings, settings_of


def content_security_policy(s3_public_endpoint: str) -> str:
    """No inline script; the browser may talk to this site and, for uploads, to S3."""
    parts = urlsplit(s3_public_endpoint)
    s3_origin = f"{parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {s3_origin}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(settings: Settings) -> dict[str, str]:
    """The headers every response carries unless it sets its own."""
    headers = {
        "Content-Security-Policy": content_security_policy(settings.s3.public_endpoint_url),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Links with tokens in them (password reset) must not leak to other sites.
        "Referrer-Policy": "no-referrer",
    }
    if settings.hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def security_headers_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    headers = security_headers(settings_of(registry))

    def security_headers_tween(request: Request) -> Response:
        response = handler(request)
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    return security_headers_tween


def includeme(config: Configurator) -> None:
    config.add_tween("datameta.security.headers.security_headers_tween_factory")
