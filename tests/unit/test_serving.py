"""The HTTP server's settings, its trust in a proxy's headers and its logging.

The server section of an ini file is read by a pure function; a wrong setting stops the
start with a message naming it. Only the configured proxies may say who the client is
and whether it used https.
"""

from __future__ import annotations

import configparser
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from datameta.serving import (
    ServerSettings,
    ServerSettingsError,
    TrustedProxies,
    parse_server_settings,
    quiet_server_logging,
    serve,
    trust_proxy_headers,
)
from tests.conftest import ROOT

# --- settings ---------------------------------------------------------------


def test_a_bind_address_alone_gives_two_workers_of_two_threads_behind_a_local_proxy():
    settings = parse_server_settings({"bind": "127.0.0.1:8080"})
    assert settings == ServerSettings(
        host="127.0.0.1",
        port=8080,
        workers=2,
        threads=2,
        backlog=1024,
        keep_alive=True,
        header_timeout_s=5.0,
        max_header_bytes=73728,
        worker_lifetime_s=None,
        worker_max_rss_mib=None,
        graceful_timeout_s=30,
        forwarded_allow_ips=("127.0.0.1",),
    )


def test_every_setting_is_read():
    settings = parse_server_settings(
        {
            "bind": "[::1]:9000",
            "workers": "4",
            "threads": "3",
            "backlog": "256",
            "keep_alive": "false",
            "header_timeout": "2.5",
            "max_header_bytes": "16384",
            "worker_lifetime": "3600",
            "worker_max_rss": "512",
            "graceful_timeout": "10",
            "forwarded_allow_ips": "10.0.0.1, 192.168.0.0/16",
        }
    )
    assert (settings.host, settings.port) == ("::1", 9000)
    assert (settings.workers, settings.threads, settings.backlog) == (4, 3, 256)
    assert settings.keep_alive is False
    assert settings.header_timeout_s == 2.5
    assert settings.max_header_bytes == 16384
    assert (settings.worker_lifetime_s, settings.worker_max_rss_mib) == (3600, 512)
    assert settings.graceful_timeout_s == 10
    assert settings.forwarded_allow_ips == ("10.0.0.1", "192.168.0.0/16")


def test_localhost_is_bound_as_the_loopback_address():
    assert parse_server_settings({"bind": "localhost:6543"}).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "bind"),
        ({"bind": "8080"}, "bind"),
        ({"bind": "127.0.0.1:http"}, "bind"),
        ({"bind": "127.0.0.1:70000"}, "bind"),
        ({"bind": "app.example.org:8080"}, "bind"),
        ({"bind": "127.0.0.1:8080", "workers": "0"}, "workers"),
        ({"bind": "127.0.0.1:8080", "workers": "two"}, "workers"),
        ({"bind": "127.0.0.1:8080", "threads": "-1"}, "threads"),
        ({"bind": "127.0.0.1:8080", "keep_alive": "yes please"}, "keep_alive"),
        ({"bind": "127.0.0.1:8080", "header_timeout": "0"}, "header_timeout"),
        ({"bind": "127.0.0.1:8080", "header_timeout": "soon"}, "header_timeout"),
        ({"bind": "127.0.0.1:8080", "max_header_bytes": "1024"}, "max_header_bytes"),
        ({"bind": "127.0.0.1:8080", "worker_lifetime": "30"}, "worker_lifetime"),
        ({"bind": "127.0.0.1:8080", "forwarded_allow_ips": "proxy.local"}, "forwarded_allow_ips"),
        # A setting of the server this one replaced is refused, not silently ignored.
        ({"bind": "127.0.0.1:8080", "worker_class": "gthread"}, "worker_class"),
    ],
)
def test_a_wrong_setting_is_refused_by_name(options: dict[str, str], named: str):
    with pytest.raises(ServerSettingsError, match=named):
        parse_server_settings(options)


def test_the_runner_stops_the_start_with_the_message(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(SystemExit, match=r"DataMeta cannot start: .*workers"):
        serve(lambda environ, start_response: [], {}, bind="127.0.0.1:1", workers="none")


def server_sections(ini: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The server sections of an ini file as PasteDeploy hands them to the runner."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / ini)
    defaults = parser.defaults()
    for name in parser.sections():
        if not name.startswith("server:"):
            continue
        options: dict[str, str] = {}
        for key in parser.options(name):
            if key == "use" or (key in defaults and not key.startswith("get ")):
                continue
            if key.startswith("get "):
                options[key[4:]] = defaults[parser[name][key]]
            else:
                options[key] = parser[name][key]
        yield name, options


@pytest.mark.parametrize("ini", ["production.ini", "development.ini"])
def test_the_shipped_server_sections_are_valid(ini: str):
    sections = dict(server_sections(ini))
    assert sections
    for options in sections.values():
        parse_server_settings(options)


# --- trusted proxies --------------------------------------------------------


def seen_by_app(proxies: TrustedProxies, **environ: str) -> dict[str, Any]:
    """The environ the app receives for a request with ``environ``."""
    received: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        received.update(environ)
        return []

    base = {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}
    trust_proxy_headers(app, proxies)({**base, **environ}, lambda *args: None)
    return received


LOCAL_PROXY = TrustedProxies(["127.0.0.1"])


def test_the_trusted_proxy_names_the_client_and_its_scheme():
    environ = seen_by_app(
        LOCAL_PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_X_FORWARDED_PROTO="https"
    )
    assert environ["REMOTE_ADDR"] == "203.0.113.7"
    assert environ["wsgi.url_scheme"] == "https"


def test_a_scheme_alone_is_believed_from_the_proxy():
    environ = seen_by_app(LOCAL_PROXY, HTTP_X_FORWARDED_PROTO="https")
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


def test_what_a_client_wrote_into_x_forwarded_for_is_not_taken_for_its_address():
    # The proxy appends the address the request came from to whatever the client sent.
    environ = seen_by_app(LOCAL_PROXY, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7")
    assert environ["REMOTE_ADDR"] == "203.0.113.7"


def test_proxies_of_our_own_in_the_chain_are_skipped():
    proxies = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])
    environ = seen_by_app(proxies, HTTP_X_FORWARDED_FOR="203.0.113.7, 10.1.2.3")
    assert environ["REMOTE_ADDR"] == "203.0.113.7"


def test_headers_from_any_other_peer_are_ignored_and_removed():
    environ = seen_by_app(
        LOCAL_PROXY,
        REMOTE_ADDR="198.51.100.1",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert environ["REMOTE_ADDR"] == "198.51.100.1"
    assert environ["wsgi.url_scheme"] == "http"
    # WebOb's client_addr (in every log line) would otherwise read the forged header.
    assert "HTTP_X_FORWARDED_FOR" not in environ
    assert "HTTP_X_FORWARDED_PROTO" not in environ


def test_a_scheme_other_than_http_or_https_is_ignored():
    environ = seen_by_app(LOCAL_PROXY, HTTP_X_FORWARDED_PROTO="gopher")
    assert environ["wsgi.url_scheme"] == "http"


def test_in_the_container_any_peer_is_the_proxy_and_names_the_last_hop():
    proxies = TrustedProxies(["*"])
    environ = seen_by_app(
        proxies,
        REMOTE_ADDR="172.18.0.5",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7",
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert environ["REMOTE_ADDR"] == "203.0.113.7"
    assert environ["wsgi.url_scheme"] == "https"


def test_a_request_without_the_headers_passes_unchanged():
    environ = seen_by_app(LOCAL_PROXY, PATH_INFO="/api/v1/server")
    assert environ == {
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "PATH_INFO": "/api/v1/server",
    }


# --- logging ----------------------------------------------------------------


@pytest.fixture
def logging_as_configured() -> Iterator[logging.Handler]:
    """A root handler as ``pserve`` sets up from an ini; the loggers restored afterwards."""
    names = ["", "_granian", "granian.access"]
    saved = {
        name: (
            logging.getLogger(name).level,
            logging.getLogger(name).propagate,
            list(logging.getLogger(name).handlers),
        )
        for name in names
    }
    handler = logging.Handler()
    handler.emit = lambda record: handler.records.append(record)  # type: ignore[method-assign]
    handler.records = []  # type: ignore[attr-defined]
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        for name, (level, propagate, handlers) in saved.items():
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers[:] = handlers


def test_the_servers_lines_go_through_the_ini_handlers_and_it_logs_no_access_lines(
    logging_as_configured: logging.Handler,
):
    from granian.log import LogLevels, configure_logging

    configure_logging(LogLevels.info, quiet_server_logging())
    logging.getLogger("_granian").info("Listening")
    logging.getLogger("granian.access").info("GET / 200")
    assert [record.getMessage() for record in logging_as_configured.records] == ["Listening"]
    assert logging_as_configured in logging.getLogger().handlers
