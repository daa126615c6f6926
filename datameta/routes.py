"""Every route of the app, in one place."""

from pyramid.config import Configurator

API = "/api/v1"


def includeme(config: Configurator) -> None:
    config.add_route("api_server", f"{API}/server")
    config.add_route("api_health", f"{API}/health")
