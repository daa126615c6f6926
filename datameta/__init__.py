"""DataMeta: a submission server for research metadata and the data files it describes."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyramid.config import Configurator
    from pyramid.registry import Registry

    from datameta.api.express import ExpressLane

log = logging.getLogger(__name__)

# Pyramid and the settings are imported where the app is built, not with the package:
# the command line (``datameta.cli``, a client of the API only) would otherwise
# spend about 0.7 s of CPU importing the server's framework at every start.


def configure(
    ini: Mapping[str, Any], environ: Mapping[str, str] | None = None, **services: Any
) -> Configurator:
    """The app's configuration from ini settings overridden by ``environ`` (default os.environ).

    ``services`` pre-fills registry entries such as ``dbengine`` (tests pass their own).
    """
    from pyramid.config import Configurator

    from datameta.config import SETTINGS_KEY, parse_settings, request_settings
    from datameta.routes import install_routes_mapper

    settings = parse_settings(ini, environ)
    config = Configurator(settings=dict(ini))
    config.registry[SETTINGS_KEY] = settings
    # The settings are reached as `request.settings` everywhere a request is at hand.
    config.add_request_method(request_settings, "settings", reify=True)
    config.registry.update(services)
    # Routes are matched by their literal start first (before any route is added).
    install_routes_mapper(config)
    # A request id, one JSON access line and Prometheus counts for every request.
    config.include(".telemetry")
    # Who is calling (API key or session), secure by default, CSRF checks.
    config.include(".security.policy")
    # Content-Security-Policy and friends on every response.
    config.include(".security.headers")
    # Bodies over the configured size answer 413 before anything reads them.
    config.include(".security.body_limit")
    # Text no database can store (NUL, lone surrogates, not UTF-8) answers 400 at the door.
    config.include(".security.text_input")
    # Request-scoped DB session joined to the request's transaction (pyramid_tm, retry).
    config.include(".db")
    # Server-side sessions in memcached; the cookie holds a signed id only.
    config.include(".sessions")
    # Data files live in S3; the app hands out presigned URLs.
    config.include(".storage")
    # Mail goes out through SMTP once the request's transaction has committed.
    config.include(".mail")
    # Background jobs (file verification) are deferred to PostgreSQL after the commit.
    config.include(".jobs")
    config.include(".routes")
    # The JSON API, checked against its OpenAPI document.
    config.include(".api")
    # The HTML pages.
    config.include(".views")
    return config


def make_app(
    ini: Mapping[str, Any], environ: Mapping[str, str] | None = None, **services: Any
) -> ExpressLane:
    """Build the WSGI app (see ``configure``), behind the express lane of the calls
    scripts make most (``datameta.api.express``)."""
    from datameta.api import express_lane

    return express_lane(configure(ini, environ, **services).make_wsgi_app())


def main(global_config: Mapping[str, Any], **ini: Any) -> ExpressLane:
    """The paste entry point that ``pserve`` calls, once in each server process."""
    app = make_app(ini)
    warm_up(app.registry)
    # What is built by now (modules, mappers, the OpenAPI document: about 250,000
    # objects) lives as long as the process. Frozen, the garbage collector no longer
    # walks it in each full collection that a request's many new objects set off;
    # a whole listing of 10,000 sets took half the CPU time with it frozen.
    gc.freeze()
    return app


def warm_up(registry: Registry) -> None:
    """Do once, in the server's first process, what each worker's first request would do.

    The server builds the app before it forks its workers, which inherit what is done here:
    the database dialect's first-connection set-up, the compiled SQL of the lookups that
    nearly every API call makes (SQLAlchemy caches it per engine; compiling it cost a
    worker's first request about 60 ms of CPU), the mapped classes' configuration, the
    metadata definitions, and what the validation of each operation's requests builds
    on first use (its body's validator, the parsed path templates). A database that
    cannot be reached now only leaves its part to the first requests. The pool is
    emptied afterwards: a connection opened before the fork would be one socket shared
    by every worker.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from datameta.api.validation import prepare_request_validation
    from datameta.logic.files import prepare_file_lookup
    from datameta.logic.metadata import definitions
    from datameta.security.policy import prepare_key_lookup

    prepare_request_validation(registry)
    engine = registry["dbengine"]
    try:
        with registry["dbsession_factory"]() as db:
            prepare_key_lookup(db)
            prepare_file_lookup(db)
            definitions(db)
            db.rollback()
    except SQLAlchemyError as error:
        log.warning("warm-up skipped, the database is not reachable: %s", error)
    finally:
        engine.dispose()
