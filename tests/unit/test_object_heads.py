"""The HEAD of an object, signed from a template and sent over a kept-alive socket.

Its signature is botocore's for the same request and time; against a scripted
server it reuses its connection, replaces one the server closed while idle, retries
a 5xx answer once, and names refusals by their status.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from datameta.storage.heads import Head, ObjectHeads
from datameta.storage.s3_requests import S3RequestError
from datameta.storage.sigv4 import Endpoint

REGION = "eu-central-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)

FOUND = (
    b"HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: 4096\r\n"
    b'Etag: "20439f79e4e9dc95be34b21029221f80"\r\nLast-Modified: Tue, 01 Dec 2026 05:00:00 GMT'
    b"\r\nServer: SeaweedFS\r\n\r\n"
)
MISSING = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
REFUSED = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
CLOSING = FOUND.replace(b"Server:", b"Connection: close\r\nServer:")
CLOSE = b""  # the server closes the connection instead of answering


def heads_for(endpoint_url: str, **options: float) -> ObjectHeads:
    endpoint = Endpoint(
        endpoint_url, "bucket", region=REGION, access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )
    return ObjectHeads(
        endpoint,
        connect_timeout=options.get("connect_timeout", 2),
        read_timeout=options.get("read_timeout", 2),
    )


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:9000", "https://s3.example.org", "http://s3.example.org:80"]
)
@pytest.mark.parametrize("key", ["files/0f8e1a2b-uuid", "files/with space+plus~"])
def test_a_head_carries_botocores_signature(endpoint, key, monkeypatch):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="HEAD", url=f"{endpoint}/bucket/{quote(key, safe='/~')}")
    botocore.auth.S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)

    sent = heads_for(endpoint).request_bytes(key, NOW.timestamp()).decode()

    request_line, *header_lines = sent.removesuffix("\r\n\r\n").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert request_line == f"HEAD /bucket/{quote(key, safe='/~')} HTTP/1.1"
    assert headers["Authorization"] == request.headers["Authorization"]
    assert headers["x-amz-date"] == request.headers["X-Amz-Date"]
    assert headers["Host"] == endpoint.split("://")[1].removesuffix(":80")


class ScriptedServer:
    """Answers each request on a connection with the next answer of the script; an
    empty answer closes the connection instead. Counts connections and requests."""

    def __init__(self, script: list[bytes]) -> None:
        self.script = list(script)
        self.connections = 0
        self.requests: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            received = b""
            while True:
                while b"\r\n\r\n" not in received:
                    more = connection.recv(4096)
                    if not more:
                        return
                    received += more
                request, _, received = received.partition(b"\r\n\r\n")
                self.requests.append(request)
                answer = self.script.pop(0)
                if not answer:
                    return
                connection.sendall(answer)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[list[bytes]], tuple[ScriptedServer, ObjectHeads]]]:
    started: list[tuple[ScriptedServer, ObjectHeads]] = []

    def start(script: list[bytes]) -> tuple[ScriptedServer, ObjectHeads]:
        server = ScriptedServer(script)
        started.append((server, heads_for(f"http://127.0.0.1:{server.port}")))
        return started[-1]

    yield start
    for server, heads in started:
        heads.close()
        server.close()


def test_size_and_etag_of_a_stored_object(serve):
    _, heads = serve([FOUND])

    assert heads.head("files/a") == Head(4096, "20439f79e4e9dc95be34b21029221f80")


def test_a_missing_object_is_none(serve):
    _, heads = serve([MISSING])

    assert heads.head("files/a") is None


def test_requests_share_one_kept_alive_connection(serve):
    server, heads = serve([FOUND, MISSING, FOUND])

    assert [heads.head("files/a"), heads.head("files/b"), heads.head("files/c")] == [
        Head(4096, "20439f79e4e9dc95be34b21029221f80"),
        None,
        Head(4096, "20439f79e4e9dc95be34b21029221f80"),
    ]
    assert server.connections == 1
    assert [request.split(b" ")[1] for request in server.requests] == [
        b"/bucket/files/a",
        b"/bucket/files/b",
        b"/bucket/files/c",
    ]


def test_a_connection_the_server_closed_while_idle_is_replaced(serve):
    # The second request meets the closed connection, then succeeds on a new one: the
    # stale connection does not count as the one retry.
    server, heads = serve([FOUND, CLOSE, BUSY, FOUND])

    heads.head("files/a")

    assert heads.head("files/b") == Head(4096, "20439f79e4e9dc95be34b21029221f80")
    assert server.connections == 2


def test_an_answer_that_says_close_closes_the_connection(serve):
    server, heads = serve([CLOSING, FOUND])

    heads.head("files/a")
    heads.head("files/b")

    assert server.connections == 2


def test_a_busy_server_is_asked_once_more(serve):
    server, heads = serve([BUSY, FOUND])

    assert heads.head("files/a") == Head(4096, "20439f79e4e9dc95be34b21029221f80")
    assert len(server.requests) == 2


def test_a_server_busy_twice_fails_with_its_status(serve):
    _, heads = serve([BUSY, BUSY])

    with pytest.raises(S3RequestError) as failure:
        heads.head("files/a")

    assert (failure.value.code, failure.value.status) == ("503", 503)


def test_a_refusal_is_not_retried(serve):
    server, heads = serve([REFUSED, FOUND])

    with pytest.raises(S3RequestError) as failure:
        heads.head("files/a")

    assert failure.value.status == 403
    assert len(server.requests) == 1


def test_a_new_connection_closed_without_an_answer_is_unreachable(serve):
    server, heads = serve([CLOSE, CLOSE])

    with pytest.raises(S3RequestError) as failure:
        heads.head("files/a")

    assert failure.value.code == "Unreachable"
    assert server.connections == 2


def test_nothing_listening_is_unreachable():
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    heads = heads_for(f"http://127.0.0.1:{port}")

    with pytest.raises(S3RequestError) as failure:
        heads.head("files/a")

    assert failure.value.code == "Unreachable"


def test_a_server_that_never_answers_times_out(serve):
    listener = socket.create_server(("127.0.0.1", 0))
    heads = heads_for(f"http://127.0.0.1:{listener.getsockname()[1]}", read_timeout=0.2)
    try:
        with pytest.raises(S3RequestError) as failure:
            heads.head("files/a")
    finally:
        listener.close()

    assert failure.value.code == "Unreachable"


def test_a_forked_process_opens_sockets_of_its_own(serve):
    # A server that forks its workers after the app made a HEAD (a warm-up) must not
    # let two processes share one connection.
    _, heads = serve([FOUND])
    heads.head("files/a")
    assert len(heads.idle) == 1

    child = os.fork()
    if child == 0:
        os._exit(0 if heads.idle == [] else 1)
    _, status = os.waitpid(child, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert len(heads.idle) == 1  # the parent keeps its own
