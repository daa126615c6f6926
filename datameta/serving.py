"""Serving the app over HTTP with granian, from an ini file's server section.

``pserve production.ini`` reads ``[server:main]``, whose ``use = egg:datameta#granian``
names :func:`serve`. granian's HTTP handling is written in Rust and costs a fraction of
the CPU per request that a server written in Python does (see benchmarks/RESULTS.md);
the app itself runs in the worker processes, forked from the process that built and
warmed it up (``datameta.main``), one or a few blocking threads each.

The settings of the section are read and checked by :func:`parse_server_settings`, a pure
function: a misspelt or out-of-range setting stops the start with a message naming it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import MPServer

from datameta.telemetry.metrics import worker_exited

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# hyper, granian's HTTP library, needs a read buffer of at least this many bytes.
MIN_HEADER_BYTES = 8192
# granian respawns workers no sooner than this.
MIN_WORKER_LIFETIME_S = 60


class ServerSettingsError(ValueError):
    """A setting of the server section is missing, unknown or out of range."""


@dataclass(frozen=True)
class ServerSettings:
    """What the server section of an ini file asks for, checked."""

    host: str
    port: int
    workers: int
    # Python threads per worker that run the app; the HTTP work happens outside them.
    threads: int
    backlog: int
    keep_alive: bool
    # A client must send a request's line and headers within this time.
    header_timeout_s: float
    # The request line and headers together must fit in this many bytes.
    max_header_bytes: int
    # A worker is replaced by a fresh one after this long, or once it uses this much memory.
    worker_lifetime_s: int | None
    worker_max_rss_mib: int | None
    # On SIGTERM or SIGINT, requests in progress get this long to finish.
    graceful_timeout_s: int
    # Peers whose X-Forwarded-For and X-Forwarded-Proto are believed ("*": every peer).
    forwarded_allow_ips: tuple[str, ...]


DEFAULTS: dict[str, str] = {
    "workers": "2",
    "threads": "2",
    "backlog": "1024",
    "keep_alive": "true",
    "header_timeout": "5",
    "max_header_bytes": "73728",
    "worker_lifetime": "",
    "worker_max_rss": "",
    "graceful_timeout": "30",
    "forwarded_allow_ips": "127.0.0.1",
}
KNOWN = {"bind", *DEFAULTS}


def parse_server_settings(options: Mapping[str, str]) -> ServerSettings:
    """The settings of a server section (its keys and values as text), checked.

    Raises :class:`ServerSettingsError` naming the first setting that is wrong.
    """
    unknown = sorted(set(options) - KNOWN)
    if unknown:
        raise ServerSettingsError(
            f"unknown server setting(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN))}"
        )
    values = {**DEFAULTS, **{key: str(value).strip() for key, value in options.items()}}
    if not values.get("bind"):
        raise ServerSettingsError("server setting bind (host:port) is required")
    host, port = parse_bind(values["bind"])
    return ServerSettings(
        host=host,
        port=port,
        workers=integer(values, "workers", minimum=1),
        threads=integer(values, "threads", minimum=1),
        backlog=integer(values, "backlog", minimum=1),
        keep_alive=boolean(values, "keep_alive"),
        header_timeout_s=number(values, "header_timeout", minimum=0.1),
        max_header_bytes=integer(values, "max_header_bytes", minimum=MIN_HEADER_BYTES),
        worker_lifetime_s=optional_integer(values, "worker_lifetime", MIN_WORKER_LIFETIME_S),
        worker_max_rss_mib=optional_integer(values, "worker_max_rss", minimum=1),
        graceful_timeout_s=integer(values, "graceful_timeout", minimum=1),
        forwarded_allow_ips=parse_forwarded_allow_ips(values["forwarded_allow_ips"]),
    )


def parse_bind(text: str) -> tuple[str, int]:
    """``host:port`` or ``[ipv6]:port`` into host and port."""
    host, separator, port_text = text.rpartition(":")
    if not separator or not host:
        raise ServerSettingsError(f"server setting bind must be host:port, not {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ServerSettingsError(f"server setting bind has no valid port: {text!r}")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # granian binds addresses; a name would fail later, with a less clear message.
        raise ServerSettingsError(
            f"server setting bind needs an IP address (or localhost), not {host!r}"
        ) from None
    return host, int(port_text)


def integer(values: Mapping[str, str], key: str, minimum: int) -> int:
    text = values[key]
    if not text.isdigit() or int(text) < minimum:
        raise ServerSettingsError(f"server setting {key} must be a whole number >= {minimum}")
    return int(text)


def optional_integer(values: Mapping[str, str], key: str, minimum: int) -> int | None:
    return integer(values, key, minimum) if values[key] else None


def number(values: Mapping[str, str], key: str, minimum: float) -> float:
    try:
        value = float(values[key])
    except ValueError:
        value = float("nan")
    if not value >= minimum:
        raise ServerSettingsError(f"server setting {key} must be a number >= {minimum}")
    return value


def boolean(values: Mapping[str, str], key: str) -> bool:
    text = values[key].lower()
    if text not in {"true", "false"}:
        raise ServerSettingsError(f"server setting {key} must be true or false")
    return text == "true"


def parse_forwarded_allow_ips(text: str) -> tuple[str, ...]:
    """``*`` or addresses and networks, separated by commas or spaces."""
    entries = tuple(entry for entry in text.replace(",", " ").split() if entry)
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ServerSettingsError(
                f"server setting forwarded_allow_ips: {entry!r} is neither an address, "
                "a network nor *"
            ) from None
    return entries


class TrustedProxies:
    """Which peers may tell the client's address and scheme, and the client they name."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = tuple(entries)
        self.any_peer = "*" in entries
        self.networks = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*"
        )
        # The common case, one address such as 127.0.0.1, without parsing the peer's.
        self.addresses = frozenset(
            str(network.network_address) for network in self.networks if network.num_addresses == 1
        )

    def is_proxy(self, address: str) -> bool:
        if address in self.addresses:
            return True
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self.networks)

    def trusts(self, peer: str) -> bool:
        return self.any_peer or self.is_proxy(peer)

    def client(self, forwarded_for: str) -> str | None:
        """The client named by a trusted peer's X-Forwarded-For.

        Each proxy appends the address it received the request from, so entries to the
        left were written by whoever sent the request: the client is the last entry that
        is not one of our proxies.
        """
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.is_proxy(hop):
                return hop
        return hops[0] if hops else None


FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"
FORWARDED_PROTO = "HTTP_X_FORWARDED_PROTO"


def trust_proxy_headers(app: WsgiApp, proxies: TrustedProxies) -> WsgiApp:
    """The app behind a proxy: its X-Forwarded-For and -Proto count, nobody else's.

    From a trusted peer, ``REMOTE_ADDR`` becomes the client it names and
    ``wsgi.url_scheme`` the scheme (http or https) the client used. Both headers are then
    removed, from any peer: what is left of them would be a claim nobody vouched for, and
    WebOb's ``client_addr`` (in every log line) reads X-Forwarded-For before REMOTE_ADDR.
    """

    def with_proxy_headers(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        forwarded_for = environ.pop(FORWARDED_FOR, None)
        proto = environ.pop(FORWARDED_PROTO, None)
        if (forwarded_for or proto) and proxies.trusts(environ.get("REMOTE_ADDR", "")):
            client = proxies.client(forwarded_for) if forwarded_for else None
            if client:
                environ["REMOTE_ADDR"] = client
            scheme = proto.split(",")[0].strip().lower() if proto else ""
            if scheme in {"http", "https"}:
                environ["wsgi.url_scheme"] = scheme
        return app(environ, start_response)

    return with_proxy_headers


def quiet_server_logging() -> dict[str, Any]:
    """granian's logging configuration: its lines go through the ini's handlers.

    Incremental: only the levels and propagation of granian's two loggers change, so the
    handlers and JSON formatter that ``pserve`` set up from the ini file stay. No access
    line is built (the app logs every request itself).
    """
    return {
        "version": 1,
        "incremental": True,
        "handlers": {},
        "loggers": {
            "_granian": {"propagate": True},
            "granian.access": {"level": "WARNING", "propagate": True},
        },
    }


class Server(MPServer):
    """granian's process server, which lets a worker's metrics go once the worker ended."""

    def _stop_workers(self) -> None:
        pids = [worker.inner.pid for worker in self.wrks]
        super()._stop_workers()
        for pid in pids:
            worker_exited(pid)

    def _respawn_workers(self, workers: Any, *args: Any, **kwargs: Any) -> None:
        pids = [self.wrks[index].inner.pid for index in workers]
        super()._respawn_workers(workers, *args, **kwargs)
        for pid in pids:
            worker_exited(pid)


def build_server(settings: ServerSettings) -> Server:
    return Server(
        "datameta",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        blocking_threads=settings.threads,
        # One Rust thread per worker does the HTTP work of a worker easily.
        runtime_threads=1,
        backlog=settings.backlog,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.header_timeout_s * 1000),
            keep_alive=settings.keep_alive,
            max_buffer_size=settings.max_header_bytes,
        ),
        # Each process's Python threads and metrics are its own: no HTTP/2, no websockets.
        websockets=False,
        log_level=LogLevels.info,
        log_dictconfig=quiet_server_logging(),
        log_access=False,
        workers_lifetime=settings.worker_lifetime_s,
        workers_max_rss=settings.worker_max_rss_mib,
        workers_kill_timeout=settings.graceful_timeout_s,
        respawn_failed_workers=True,
        process_name=None,
    )


def serve(app: WsgiApp, global_conf: Mapping[str, str], **options: str) -> None:
    """The PasteDeploy server runner named ``egg:datameta#granian``.

    ``app`` was built (and warmed up) in this process; the workers are forked from it and
    inherit it, so the app is never built twice.
    """
    try:
        settings = parse_server_settings(options)
    except ServerSettingsError as error:
        raise SystemExit(f"DataMeta cannot start: {error}") from None
    served = trust_proxy_headers(app, TrustedProxies(settings.forwarded_allow_ips))
    log.info(
        "serving at http://%s:%s with %s worker(s) of %s thread(s)",
        settings.host,
        settings.port,
        settings.workers,
        settings.threads,
        extra={"pid": os.getpid()},
    )
    build_server(settings).serve(target_loader=lambda _target: served)
