"""Routes are found by their literal start first, with the same answers as Pyramid's own."""

import re

from pyramid.interfaces import IRoutesMapper
from pyramid.urldispatch import RoutesMapper

from datameta.routes import PrefixRoutesMapper, static_prefix

VARIABLE = re.compile(r"\{[^}]*\}")
PATHS = [
    "/",
    "/login",
    "/setpass/abc",
    "/setpass/abc/renew",
    "/static/css/app.css",
    "/static/",
    "/api/v1/metadatasets",
    "/api/v1/metadatasets/DMR-00000001",
    "/api/v1/metadatasets/x/y",
    "/api/v1/files",
    "/api/v1/files/DMF-00000001",
    "/api/v1/files/DMF-00000001/upload",
    "/api/v1/rpc/whoami",
    "/api/v1/users/0/password",
    "/api/v1",
    "/api/v1/",
    "/api/v2/metadatasets",
    "/apiv1",
    "/metrics",
    "/nowhere",
    "/api/v1/metadatasets/",
    "/view",
    "/home/",
]


def test_static_prefix_stops_at_the_first_variable_part():
    assert static_prefix("/api/v1/files/{id}/upload") == "/api/v1/files/"
    assert static_prefix("static/*subpath") == "/static/"
    assert static_prefix("/old/:name") == "/old/"
    assert static_prefix("/login") == "/login"


def test_every_path_falls_on_the_route_pyramid_would_choose(app):
    mapper = app.registry.queryUtility(IRoutesMapper)
    assert isinstance(mapper, PrefixRoutesMapper)
    plain = RoutesMapper()
    for route in mapper.get_routes():
        plain.connect(route.name, route.pattern, route.factory, route.predicates)
    # Every route's own pattern with its variables filled in, besides the paths above.
    generated = [
        "/" + VARIABLE.sub("x", route.pattern).replace("*", "a/b").lstrip("/")
        for route in mapper.get_routes()
    ]
    for path in PATHS + generated:
        ours, params = mapper.matching(path)
        theirs = next(
            ((r, m) for r in plain.get_routes() if (m := r.match(path)) is not None), (None, {})
        )
        assert (ours and ours.name, params) == (theirs[0] and theirs[0].name, theirs[1]), path
