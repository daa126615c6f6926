"""Every route of the app, in one place, and the mapper that finds a path's route."""

import re
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import URLDecodeError
from pyramid.interfaces import IRoutesMapper
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.urldispatch import Route, RoutesMapper

API = "/api/v1"
# Our own CSS and scripts, and the libraries scripts/install.sh copies from npm.
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


# Where a route pattern's first variable part may begin (cutting earlier only costs a
# regular expression match more, never a wrong answer).
_VARIABLE_START = re.compile(r"[{*:]")


def static_prefix(pattern: str) -> str:
    """The literal start of ``pattern``: every path the route matches begins with it."""
    pattern = pattern if pattern.startswith("/") else f"/{pattern}"
    found = _VARIABLE_START.search(pattern)
    return pattern if found is None else pattern[: found.start()]


# Where ``matching`` notes the route it found for a request's path.
_MATCHED = "datameta.matched_route"


class PrefixRoutesMapper(RoutesMapper):
    """Pyramid's mapper, trying only the routes whose literal start the path has.

    The same routes in the same order answer as before; a path under /api/v1 no longer
    runs the regular expression of every page route first (each request matched about
    45 routes, twice: here and in the tween that checks incoming text).
    """

    def __init__(self) -> None:
        super().__init__()
        self.prefixes: dict[str, str] = {}

    def connect(self, name: str, pattern: str, *args: Any, **kwargs: Any) -> Route:
        route = super().connect(name, pattern, *args, **kwargs)
        self.prefixes[name] = static_prefix(pattern)
        return route

    def matching(
        self, path: str, environ: dict[str, Any] | None = None
    ) -> tuple[Route | None, dict[str, Any]]:
        """The first route whose pattern ``path`` matches, and its parameters (predicates
        not asked); noted in ``environ``, where the router finds it again for that path."""
        found: tuple[Route | None, dict[str, Any]] = (None, {})
        for route in self.routelist:
            if path.startswith(self.prefixes[route.name]):
                match = route.match(path)
                if match is not None:
                    found = (route, match)
                    break
        if environ is not None:
            environ[_MATCHED] = (path, *found)
        return found

    def __call__(self, request: Any) -> dict[str, Any]:
        try:
            path = request.path_info or "/"
        except KeyError:
            path = "/"
        except UnicodeDecodeError as error:
            raise URLDecodeError(
                error.encoding, error.object, error.start, error.end, error.reason
            ) from error
        noted = request.environ.get(_MATCHED)
        if noted is not None and noted[0] == path and noted[1] is not None:
            route, match = noted[1], noted[2]
            if not route.predicates:
                return {"match": dict(match), "route": route}
        for route in self.routelist:
            if not path.startswith(self.prefixes[route.name]):
                continue
            match = route.match(path)
            if match is not None:
                info = {"match": match, "route": route}
                if route.predicates and not all(p(info, request) for p in route.predicates):
                    continue
                return info
        return {"route": None, "match": None}


def install_routes_mapper(config: Configurator) -> None:
    """Use ``PrefixRoutesMapper``; before the first route is added."""
    config.registry.registerUtility(PrefixRoutesMapper(), IRoutesMapper)


def includeme(config: Configurator) -> None:
    config.add_static_view(
        "static", str(STATIC_DIR), cache_max_age=3600, permission=NO_PERMISSION_REQUIRED
    )

    # Pages
    config.add_route("root", "/")
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    config.add_route("tfa", "/tfa")
    config.add_route("register", "/register")
    config.add_route("forgot", "/forgot")
    config.add_route("setpass", "/setpass/{token}")
    config.add_route("setpass_renew", "/setpass/{token}/renew")
    config.add_route("settfa", "/settfa/{token}")
    config.add_route("home", "/home")
    config.add_route("account", "/account")
    config.add_route("admin", "/admin")
    config.add_route("admin_section", "/admin/{section}")
    config.add_route("submit", "/submit")
    config.add_route("view", "/view")
    config.add_route("submission", "/submissions/{id}")
    # Prometheus metrics, for whoever holds datameta.metrics.token
    config.add_route("metrics", "/metrics")

    # API: explorer (the spec itself is served at /api/v1/openapi.yaml, see datameta.api)
    config.add_route("api_root", "/api")
    config.add_route("api_explorer", f"{API}")
    # API: server
    config.add_route("api_server", f"{API}/server")
    config.add_route("api_health", f"{API}/health")
    # API: accounts
    config.add_route("api_keys", f"{API}/keys")
    config.add_route("api_key", f"{API}/keys/{{id}}")
    config.add_route("api_whoami", f"{API}/rpc/whoami")
    config.add_route("api_users", f"{API}/users")
    config.add_route("api_user", f"{API}/users/{{id}}")
    config.add_route("api_user_keys", f"{API}/users/{{id}}/keys")
    config.add_route("api_user_password", f"{API}/users/{{id}}/password")
    config.add_route("api_user_totp", f"{API}/users/{{id}}/totp-secret")
    config.add_route("api_user_lockout", f"{API}/users/{{id}}/lockout")
    config.add_route("api_groups", f"{API}/groups")
    config.add_route("api_group", f"{API}/groups/{{id}}")
    config.add_route("api_registrations", f"{API}/registrations")
    config.add_route("api_registration_accept", f"{API}/registrations/{{id}}/accept")
    config.add_route("api_registration_reject", f"{API}/registrations/{{id}}/reject")
    config.add_route("api_registration_settings", f"{API}/registrationsettings")
    config.add_route("api_appsettings", f"{API}/appsettings")
    config.add_route("api_appsetting", f"{API}/appsettings/{{id}}")
    config.add_route("api_appsetting_preview", f"{API}/rpc/appsetting-preview")
    # API: metadata definitions, staging, files, submissions, services
    config.add_route("api_metadata", f"{API}/metadata")
    config.add_route("api_metadatum", f"{API}/metadata/{{id}}")
    config.add_route("api_metadatum_impact", f"{API}/rpc/metadatum-impact")
    config.add_route("api_metadatasets", f"{API}/metadatasets")
    config.add_route("api_metadataset", f"{API}/metadatasets/{{id}}")
    config.add_route("api_delete_metadatasets", f"{API}/rpc/delete-metadatasets")
    config.add_route("api_pending_metadatasets", f"{API}/users/{{id}}/pending_metadatasets")
    config.add_route("api_pending_files", f"{API}/users/{{id}}/pending_files")
    config.add_route("api_files", f"{API}/files")
    config.add_route("api_file", f"{API}/files/{{id}}")
    config.add_route("api_file_upload_url", f"{API}/files/{{id}}/upload-url")
    config.add_route("api_file_verification", f"{API}/files/{{id}}/verification")
    config.add_route("api_multipart_uploads", f"{API}/multipart-uploads")
    config.add_route("api_multipart_upload", f"{API}/multipart-uploads/{{id}}")
    config.add_route("api_multipart_part_urls", f"{API}/multipart-uploads/{{id}}/part-urls")
    config.add_route("api_multipart_complete", f"{API}/multipart-uploads/{{id}}/complete")
    config.add_route("api_delete_files", f"{API}/rpc/delete-files")
    config.add_route("api_file_url", f"{API}/rpc/get-file-url/{{id}}")
    config.add_route("api_upload", f"{API}/upload/{{id}}")
    config.add_route("api_presubvalidation", f"{API}/presubvalidation")
    config.add_route("api_submissions", f"{API}/submissions")
    config.add_route("api_submission", f"{API}/submissions/{{id}}")
    config.add_route("api_submission_manifest", f"{API}/submissions/{{id}}/manifest")
    config.add_route("api_group_submissions", f"{API}/groups/{{id}}/submissions")
    config.add_route("api_samplesheets", f"{API}/samplesheets")
    config.add_route("api_samplesheet_template", f"{API}/samplesheets/template")
    config.add_route("api_services", f"{API}/services")
    config.add_route("api_service", f"{API}/services/{{id}}")
    config.add_route(
        "api_service_execution", f"{API}/service-execution/{{serviceId}}/{{metadatasetId}}"
    )
