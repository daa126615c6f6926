"""Links in mails: a route's path under the site's base address."""

from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper

from datameta.mail.links import LinkBuilder


def routes() -> IRoutesMapper:
    config = Configurator()
    config.include("datameta.routes")
    config.commit()
    return config.registry.getUtility(IRoutesMapper)


def test_a_link_is_the_routes_path_under_the_base_address():
    links = LinkBuilder("https://datameta.example.org/", routes())
    assert links.url("setpass", token="abc") == "https://datameta.example.org/setpass/abc"


def test_a_base_address_may_have_a_path_prefix():
    links = LinkBuilder("https://example.org/datameta", routes())
    assert links.url("setpass", token="abc") == "https://example.org/datameta/setpass/abc"


def test_parts_and_query_are_quoted():
    links = LinkBuilder("https://example.org", routes())
    assert links.url("setpass", token="a b") == "https://example.org/setpass/a%20b"
    assert (
        links.url("admin", query={"showreq": "x&y=z"})
        == "https://example.org/admin?showreq=x%26y%3Dz"
    )
