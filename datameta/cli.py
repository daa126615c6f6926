"""datameta: upload data files in parts and download submissions, from the command line.

A client of the public API only (it imports nothing of the server). The site and
the API key come from the environment, as for DataMeta 1.x's ``dmclient``:
``DATAMETA_URL`` and ``DATAMETA_TOKEN``.

Uploads read and hash each byte once: every part's MD5 signs its upload URL, so
S3 refuses a part whose bytes differ; the completion names the parts sent (the
multipart ETag their MD5s make), which the site compares with the parts S3 holds;
the site's worker then computes the whole file's MD5 (and SHA-256) from the object,
and that MD5 becomes the file's checksum, which downloads check.
Parts go to S3 in parallel; what S3 already holds is skipped when an interrupted
upload is run again (the state lives in a small JSON file). Downloads resume
partial files with HTTP range requests and check each file's MD5.
"""

from __future__ import annotations

import argparse
import base64
import collections
import functools
import hashlib
import http.client
import io
import json
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

# Exit codes, for scripts.
OK = 0
FAILED = 1  # some files failed; running the same command again resumes them
USAGE = 2  # wrong arguments or missing settings
UNREACHABLE = 3  # the site did not answer, or refused the API key
INTERRUPTED = 130  # stopped by Ctrl-C/SIGTERM; running the same command again resumes

URLS_PER_REQUEST = 100  # part URLs asked for at once at most (the API's limit)
# How far hashing may run ahead of sending: the parts are read again when sent, and
# should still be in the page cache then.
LOOKAHEAD_BYTES = 2 * 1024**3
# Threads hashing the parts of one file (hashlib releases the GIL while it hashes).
HASH_THREADS = min(4, max(2, os.cpu_count() or 2))
HASH_CHUNK = 4 * 1024 * 1024
SEND_BLOCK = 1024 * 1024
ATTEMPTS = 6  # per part or download, with exponential backoff
STATE_FILE = ".datameta-uploads.json"
CHUNK = 1024 * 1024
MiB = 1024 * 1024

EPILOG = """
environment:
  DATAMETA_URL    the site, e.g. https://datameta.example.org
  DATAMETA_TOKEN  an API key (create one on the account page)

exit codes:
  0    everything done
  1    some files failed (see the messages); run the same command again to resume
  2    wrong arguments or missing environment
  3    the site could not be reached or refused the API key
  130  interrupted; run the same command again to resume
"""


class ApiError(Exception):
    """The API answered an error; ``status`` 0 when it could not be reached."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Stopped(Exception):
    """The user asked to stop (Ctrl-C, SIGTERM)."""


class Api:
    """The few calls the command line makes, with the API key of the environment."""

    def __init__(self, url: str, token: str) -> None:
        self.base = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self.session.request(
                method, self.base + path, json=body, params=params or None, timeout=60
            )
        except requests.RequestException as error:
            raise ApiError(0, f"{self.base} could not be reached: {error}") from error
        if response.status_code >= 400:
            raise ApiError(response.status_code, _error_text(response))
        return response.json() if response.content else None


def _error_text(response: requests.Response) -> str:
    try:
        items = response.json()
        return "; ".join(item.get("message", "") for item in items)
    except (ValueError, AttributeError, TypeError):
        return f"HTTP {response.status_code}"


def _retrying(action: Callable[[], Any], stop: threading.Event, what: str) -> Any:
    """Run ``action`` up to ATTEMPTS times, waiting 1, 2, 4 ... s between tries."""
    for attempt in range(ATTEMPTS):
        if stop.is_set():
            raise Stopped()
        try:
            return action()
        except (requests.RequestException, ApiError, PartRefused) as error:
            if attempt == ATTEMPTS - 1 or (isinstance(error, ApiError) and error.status == 404):
                raise
            if stop.wait(2**attempt):
                raise Stopped() from error
    raise AssertionError(f"unreachable: {what}")


# -- upload ---------------------------------------------------------------------------


class PartRefused(Exception):
    """S3 refused a part (its URL expired, or the bytes did not match their MD5)."""


class UploadState:
    """Which local file became which upload, kept in a small JSON file across runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            self.entries = json.loads(path.read_text())

    def get(self, local: Path) -> dict[str, Any] | None:
        entry = self.entries.get(str(local.resolve()))
        stat = local.stat()
        # Another file of the same name is a new upload.
        if entry and (entry["size"], entry["mtime"]) == (stat.st_size, stat.st_mtime_ns):
            return entry
        return None

    def put(self, local: Path, **values: Any) -> None:
        stat = local.stat()
        with self.lock:
            self.entries[str(local.resolve())] = {
                "size": stat.st_size,
                "mtime": stat.st_mtime_ns,
                **values,
            }
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(self.entries, indent=1))
            temporary.replace(self.path)


@dataclass(frozen=True)
class Part:
    """Where a part lies in the file, and its MD5 (the 16 bytes)."""

    number: int
    offset: int
    length: int
    md5: bytes


def _hash_part(fd: int, number: int, part_size: int, size: int) -> Part:
    """Part ``number`` (from 1) of the open file, with its MD5.

    Several run at once (hashlib releases the GIL while it hashes), each holding
    one chunk of HASH_CHUNK bytes: memory does not grow with the part size.
    """
    offset = (number - 1) * part_size
    length = min(part_size, size - offset)
    md5 = hashlib.md5(usedforsecurity=False)
    # Each thread reads into a buffer of its own, again and again: no new 4 MiB
    # object (and its fresh pages) per chunk.
    buffer = _hash_buffers.__dict__.setdefault("buffer", memoryview(bytearray(HASH_CHUNK)))
    position, end = offset, offset + length
    while position < end:
        read = os.preadv(fd, [buffer[: min(HASH_CHUNK, end - position)]], position)
        if not read:
            raise _FileShrank("the file became shorter while it was being uploaded")
        md5.update(buffer[:read])
        position += read
    return Part(number, offset, length, md5.digest())


_hash_buffers = threading.local()


# -- when to ask for part URLs --------------------------------------------------------
#
# Each API call costs the site CPU time, so a file's part URLs are asked for in as few
# calls as keep the senders busy. The start signs the first parts (hashed before it);
# while they are sent, the other parts are hashed (faster than they are sent: several
# threads hash, and hashing outruns the network several times over), and ONE later
# call signs all of them, up to URLS_PER_REQUEST at a time. The start's share is
# large enough that the senders do not run out before the rest is hashed, even when
# hashing is only about three times faster than sending (a busy machine).

START_SHARE = 4  # the start signs a quarter of the parts (at least ``jobs``, at most 100)


def first_batch(total: int, jobs: int, batch: int = URLS_PER_REQUEST) -> int:
    """How many parts the start signs, of ``total`` parts, ``batch`` at most."""
    return min(total, batch, max(jobs, -(-total // START_SHARE)))


def urls_to_ask_for(
    *, total: int, hashed: int, signed: int, unsent: int, jobs: int, batch: int = URLS_PER_REQUEST
) -> range:
    """Which parts to ask URLs for now; an empty range: none yet.

    Parts are counted in the order they need URLs (on a fresh upload: their part
    numbers). ``total`` parts need URLs (until hashing ends, an upper bound: a
    resumed upload skips parts S3 holds); the first ``hashed`` have their MD5s, the
    first ``signed`` their URLs; ``unsent`` URLs are held for parts not sent yet
    (waiting or being sent), by ``jobs`` senders. One call asks for ``batch`` URLs
    at most (the API's limit, or fewer when hashing may not run that far ahead).

    The first call (``signed`` 0) waits for the start's share (``first_batch``).
    Later ones wait until every part is hashed, or a full batch is, or a sender is
    idle and enough parts are hashed to keep every idle sender busy.
    """
    ready = hashed - signed
    if ready <= 0:
        return range(0)
    if signed == 0:
        first = first_batch(total, jobs, batch)
        return range(1, first + 1) if hashed >= first else range(0)
    idle = jobs - unsent
    if hashed >= total or ready >= batch or (idle > 0 and ready >= idle):
        return range(signed + 1, signed + 1 + min(ready, batch))
    return range(0)


def lookahead_parts(part_size: int, jobs: int) -> int:
    """How many parts hashing may run ahead of the parts sent (or skipped): a full
    batch of URLs and the senders' parts, within LOOKAHEAD_BYTES, so that the parts
    are still in the page cache when they are sent."""
    return max(2 * jobs, min(URLS_PER_REQUEST + 2 * jobs, LOOKAHEAD_BYTES // part_size))


class _FileRegion(io.RawIOBase):
    """``length`` bytes of an open file from ``offset``, read as they are sent.

    The request body streams from the file (the page cache, as the part was hashed
    a moment ago), so memory does not grow with the part size.
    """

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self.fd, self.position, self.left, self.length = fd, offset, length, length

    def __len__(self) -> int:  # requests sends it as Content-Length
        return self.length

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = os.pread(self.fd, size, self.position) if size else b""
        if len(data) < size:
            raise OSError("the file became shorter while it was being uploaded")
        self.position += size
        self.left -= size
        return data


class _LargeBlocks(requests.adapters.HTTPAdapter):
    """Sends request bodies in blocks of SEND_BLOCK, not urllib3's 16 KiB: fewer reads
    and fewer trips through Python per part."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, blocksize=SEND_BLOCK, **kwargs)


class _PartSender:
    """PUTs parts over one kept-alive connection per sending thread.

    Over plain HTTP the bytes go from the file to the socket by sendfile(2), in the
    kernel: no copy into Python and back, about a second of CPU per GiB less than
    streaming them through requests. Over HTTPS (encrypted in this process) they
    are streamed through requests, in large blocks.
    """

    def __init__(self) -> None:
        self.session = requests.Session()
        self.session.mount("http://", _LargeBlocks())
        self.session.mount("https://", _LargeBlocks())
        self.local = threading.local()

    def put(self, url: dict[str, Any], fd: int, part: Part) -> int:
        """Sends the part; returns S3's HTTP status."""
        target = urlsplit(url["url"])
        if target.scheme != "http":
            body = _FileRegion(fd, part.offset, part.length)
            return self.session.put(
                url["url"], data=body, headers=url["requestHeaders"], timeout=300
            ).status_code
        connection = self._connection(target.netloc)
        try:
            connection.putrequest("PUT", f"{target.path}?{target.query}", skip_accept_encoding=True)
            for name, value in url["requestHeaders"].items():
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(part.length))
            connection.endheaders()
            assert connection.sock is not None
            _sendfile(connection.sock, fd, part.offset, part.length)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            if isinstance(error, _FileShrank):
                raise
            raise PartRefused(f"part {part.number}: sending failed: {error}") from error
        if response.will_close:
            connection.close()
        return response.status

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        connections: dict[str, http.client.HTTPConnection] = self.local.__dict__.setdefault(
            "connections", {}
        )
        connection = connections.get(netloc)
        if connection is not None and connection.sock is not None and _dropped(connection.sock):
            connection.close()  # the server closed it while it was idle
        if connection is None:
            connection = connections[netloc] = http.client.HTTPConnection(netloc, timeout=300)
        return connection


class _FileShrank(OSError):
    """The file became shorter while it was being uploaded."""


def _sendfile(sock: Any, fd: int, offset: int, length: int) -> None:
    # socket.sendfile waits for the socket when its buffer is full (sockets with a
    # timeout are non-blocking underneath); it needs a file object of its own.
    with os.fdopen(os.dup(fd), "rb", buffering=0) as file:
        if sock.sendfile(file, offset, length) < length:
            raise _FileShrank("the file became shorter while it was being uploaded")


def _dropped(sock: Any) -> bool:
    """Whether an idle kept-alive connection was closed by the other end."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)  # an idle connection is readable only at its end


def _put_part(sender: _PartSender, url: dict[str, Any], fd: int, part: Part) -> None:
    status = sender.put(url, fd, part)
    if status != 200:
        raise PartRefused(f"part {part.number}: S3 answered {status}")


def expected_part_size(size: int) -> int:
    """The part size the site chooses (as its API documents): whole MiB, at least
    16 MiB, and large enough for at most 10,000 parts. Knowing it, the command line
    hashes the first parts before it starts the upload, which then signs them."""
    needed = -(-size // 10_000)
    return max(16 * MiB, -(-needed // MiB) * MiB)


def multipart_etag(part_md5s: list[bytes]) -> str:
    """The ETag S3 gives the object joined from parts of these MD5s: their MD5, "-", count.

    Named at completion instead of the whole file's MD5: S3 checked each part
    against its MD5 as it arrived, the site checks that the parts it joins are
    these, and the site's worker computes the whole file's MD5 from the object.
    So each byte is hashed once here.
    """
    return f"{hashlib.md5(b''.join(part_md5s), usedforsecurity=False).hexdigest()}-{len(part_md5s)}"


@dataclass
class UploadResult:
    site_id: str
    resumed_parts: int
    sent_parts: int


def upload_file(
    api: Api,
    local: Path,
    state: UploadState,
    *,
    jobs: int,
    stop: threading.Event,
    bar: tqdm,
) -> UploadResult:
    """Upload one file in parts, resuming what S3 holds of an earlier run; returns its id.

    HASH_THREADS threads hash the parts (in order, at most ``lookahead_parts`` ahead
    of the sending) while ``jobs`` threads send the parts whose URLs are signed;
    ``urls_to_ask_for`` says when to ask for which URLs: with the start, and then
    in as few calls as keep the senders busy.
    """
    size = local.stat().st_size
    known = state.get(local)
    if known and known.get("done"):
        bar.update(size)
        return UploadResult(known["site"], 0, 0)
    upload, held = None, {}
    if known:
        try:
            upload = api.call("GET", f"/multipart-uploads/{known['uuid']}")
            held = {p["partNumber"]: p["etag"].strip('"') for p in upload["parts"]}
        except ApiError as error:
            if error.status != 404:
                raise
    fd = os.open(local, os.O_RDONLY)
    try:
        with (
            ThreadPoolExecutor(max_workers=HASH_THREADS) as hashers,
            ThreadPoolExecutor(max_workers=jobs) as senders,
        ):
            run = _FileUpload(api, local, size, fd, jobs, stop, bar, hashers, senders)
            try:
                upload = run.send_all(state, upload, held)
            except BaseException:
                run.cancel()
                raise
    finally:
        os.close(fd)
    file_id, site_id = upload["fileId"]["uuid"], upload["fileId"]["site"]
    etag = multipart_etag(run.digests)
    _retrying(
        lambda: api.call("POST", f"/multipart-uploads/{file_id}/complete", {"multipartEtag": etag}),
        stop,
        "completion",
    )
    state.put(local, uuid=file_id, site=site_id, done=True, multipartEtag=etag)
    return UploadResult(site_id, run.resumed, run.sent)


def _urls_body(batch: list[Part]) -> dict[str, Any]:
    """Consecutive parts compactly (a first number, base64 MD5s); others as a list."""
    if batch[-1].number - batch[0].number == len(batch) - 1:
        md5s = [base64.b64encode(part.md5).decode() for part in batch]
        return {"firstPart": batch[0].number, "md5s": md5s}
    return {"parts": [{"partNumber": p.number, "md5": p.md5.hex()} for p in batch]}


class _FileUpload:
    """The parts of one file: hashed by a pool of threads, signed as
    ``urls_to_ask_for`` says, sent by another pool; all decided in one thread."""

    def __init__(
        self,
        api: Api,
        local: Path,
        size: int,
        fd: int,
        jobs: int,
        stop: threading.Event,
        bar: tqdm,
        hashers: ThreadPoolExecutor,
        senders: ThreadPoolExecutor,
    ) -> None:
        self.api, self.local, self.size, self.fd, self.jobs = api, local, size, fd, jobs
        self.stop, self.bar, self.hashers, self.senders = stop, bar, hashers, senders
        self.sender = _PartSender()
        self.hashing: collections.deque[Future[Part]] = collections.deque()
        self.in_flight: set[Future[None]] = set()
        self.resumed = self.sent = 0
        self.digests: list[bytes] = []  # every part's MD5, in order, for the multipart ETag
        self._restart(expected_part_size(size))

    def _restart(self, part_size: int) -> None:
        """Hash from the first part, with ``part_size``."""
        self.cancel()
        self.part_size, self.count = part_size, max(1, -(-self.size // part_size))
        self.lookahead = lookahead_parts(part_size, self.jobs)
        self.batch = min(URLS_PER_REQUEST, self.lookahead)
        self.hashing = collections.deque()
        self.next_number = 1  # the next part to hash
        self.released = 0  # parts sent or skipped: hashing may run ahead of these
        self.needing: list[Part] = []  # parts hashed that need sending, in order
        self.signed = 0  # how many of them have URLs
        self.digests = []

    def cancel(self) -> None:
        futures: list[Future[Any]] = [*self.hashing, *self.in_flight]
        for future in futures:
            future.cancel()

    def send_all(
        self, state: UploadState, upload: dict[str, Any] | None, held: dict[int, str]
    ) -> dict[str, Any]:
        """Hash, sign and send every part S3 does not hold; returns the upload."""
        if upload is not None and upload["partSize"] != self.part_size:
            self._restart(upload["partSize"])
        while True:
            if self.stop.is_set():
                raise Stopped()
            self._hash_ahead()
            self._take_hashed(held)
            while wanted := urls_to_ask_for(
                total=self.count - self.resumed,
                hashed=len(self.needing),
                signed=self.signed,
                unsent=len(self.in_flight),
                jobs=self.jobs,
                batch=self.batch,
            ):
                upload = self._sign(state, upload, self.needing[wanted.start - 1 : wanted.stop - 1])
            if self.released == self.count:
                assert upload is not None  # every part was sent or skipped
                return upload
            # The parts taken above may all have been hashed already: hash further
            # before waiting, or there could be nothing left to wait for.
            self._hash_ahead()
            self._wait()

    def _hash_ahead(self) -> None:
        while (
            self.next_number <= self.count
            and len(self.hashing) < 2 * HASH_THREADS
            and self.next_number - 1 - self.released < self.lookahead
        ):
            hashed = self.hashers.submit(
                _hash_part, self.fd, self.next_number, self.part_size, self.size
            )
            self.hashing.append(hashed)
            self.next_number += 1

    def _take_hashed(self, held: dict[int, str]) -> None:
        """The parts hashed by now, in order; those S3 holds already are skipped."""
        while self.hashing and self.hashing[0].done():
            part = self.hashing.popleft().result()
            self.digests.append(part.md5)
            if held.get(part.number) == part.md5.hex():
                self.resumed += 1
                self.released += 1
                self.bar.update(part.length)
            else:
                self.needing.append(part)

    def _sign(
        self, state: UploadState, upload: dict[str, Any] | None, batch: list[Part]
    ) -> dict[str, Any]:
        """URLs for ``batch`` (with the start, if not started yet); sends its parts."""
        if upload is None:
            upload = self._start(state, batch)
            if upload["partSize"] != self.part_size:  # the site chose another size
                self._restart(upload["partSize"])
                return upload
            urls = upload["partUrls"]
        else:
            path = f"/multipart-uploads/{upload['fileId']['uuid']}/part-urls"
            call = functools.partial(self.api.call, "POST", path, _urls_body(batch))
            urls = _retrying(call, self.stop, "part URLs")["parts"]
        for part, url in zip(batch, urls, strict=True):
            self.in_flight.add(self.senders.submit(self._send, part, url))
        self.signed += len(batch)
        self.sent += len(batch)
        return upload

    def _start(self, state: UploadState, first: list[Part]) -> dict[str, Any]:
        assert [part.number for part in first] == list(range(1, len(first) + 1))
        md5s = [base64.b64encode(part.md5).decode() for part in first]  # parts 1, 2, ...
        body = {"name": self.local.name, "size": self.size, "partSize": self.part_size}
        upload: dict[str, Any] = self.api.call("POST", "/multipart-uploads", {**body, "md5s": md5s})
        state.put(self.local, uuid=upload["fileId"]["uuid"], site=upload["fileId"]["site"])
        return upload

    def _send(self, part: Part, url: dict[str, Any]) -> None:
        _retrying(
            lambda: _put_part(self.sender, url, self.fd, part), self.stop, f"part {part.number}"
        )
        self.bar.update(part.length)

    def _wait(self) -> None:
        """Until the next part is hashed or a part is sent (a failed send raises)."""
        waiting: set[Future[Any]] = set(self.in_flight)
        if self.hashing:
            waiting.add(self.hashing[0])
        assert waiting, "nothing to wait for: the upload would stall"
        done, _ = wait(waiting, return_when=FIRST_COMPLETED)
        for future in done & self.in_flight:
            self.in_flight.discard(future)
            self.released += 1
            future.result()


def run_upload(api: Api, args: argparse.Namespace, stop: threading.Event) -> int:
    paths = [Path(name) for name in args.files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"datameta upload: not a file: {', '.join(missing)}", file=sys.stderr)
        return USAGE
    state = UploadState(Path(args.state))
    failed = 0
    total = tqdm(
        total=sum(path.stat().st_size for path in paths),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="all files",
        disable=args.quiet,
    )

    def one(path: Path) -> None:
        nonlocal failed
        try:
            result = upload_file(api, path, state, jobs=args.jobs, stop=stop, bar=total)
        except Stopped:
            return
        except (ApiError, PartRefused, requests.RequestException, OSError) as error:
            if isinstance(error, ApiError) and error.status in (0, 401):
                raise  # no file can succeed: the command stops (exit 3)
            failed += 1
            tqdm.write(f"{path}: failed: {error}", file=sys.stderr)
            return
        tqdm.write(
            f"{path}\t{result.site_id}\tsent {result.sent_parts} part(s), "
            f"{result.resumed_parts} already uploaded"
        )

    with ThreadPoolExecutor(max_workers=args.files_at_once) as files:
        futures = [files.submit(one, path) for path in paths]
        try:
            for future in futures:
                future.result()
        except ApiError as error:
            stop.set()
            print(f"datameta upload: {error}", file=sys.stderr)
            return UNREACHABLE
    total.close()
    if stop.is_set():
        print("datameta upload: interrupted; run the same command to resume", file=sys.stderr)
        return INTERRUPTED
    return FAILED if failed else OK


# -- download -------------------------------------------------------------------------


def download_file(
    api: Api, file_id: str, folder: Path, *, stop: threading.Event, bar: tqdm
) -> Path:
    """Download one file beside a ``.part`` file, resuming it; the MD5 must match."""
    meta = api.call("GET", f"/files/{file_id}")
    target = folder / meta["name"]
    partial = folder / (meta["name"] + ".part")
    if (
        target.exists()
        and target.stat().st_size == meta["filesize"]
        and _md5_of(target) == meta["checksum"]
    ):
        bar.update(meta["filesize"])
        return target
    md5 = hashlib.md5(usedforsecurity=False)
    have = 0
    if partial.exists():
        # Resume: the bytes we have count towards the MD5 once more.
        with partial.open("rb") as existing:
            for chunk in iter(lambda: existing.read(CHUNK), b""):
                md5.update(chunk)
                have += len(chunk)
        bar.update(have)

    def fetch() -> None:
        nonlocal have
        url = api.call("GET", f"/rpc/get-file-url/{file_id}", expires=60)["fileUrl"]
        headers = {"Range": f"bytes={have}-"} if have else {}
        with requests.get(url, headers=headers, stream=True, timeout=300) as response:
            if have and response.status_code == 416:
                return  # nothing left to fetch
            if response.status_code not in (200, 206):
                raise ApiError(
                    response.status_code, f"{meta['name']}: S3 answered {response.status_code}"
                )
            if have and response.status_code == 200:
                raise ApiError(500, f"{meta['name']}: the storage ignores ranges")
            with partial.open("ab") as out:
                for chunk in response.iter_content(CHUNK):
                    if stop.is_set():
                        raise Stopped()
                    out.write(chunk)
                    md5.update(chunk)
                    have += len(chunk)
                    bar.update(len(chunk))

    _retrying(fetch, stop, meta["name"])
    if md5.hexdigest() != meta["checksum"]:
        partial.unlink()
        raise ApiError(
            500, f"{meta['name']}: MD5 {md5.hexdigest()} differs from {meta['checksum']}; removed"
        )
    partial.replace(target)
    return target


def _md5_of(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            md5.update(chunk)
    return md5.hexdigest()


def run_download(api: Api, args: argparse.Namespace, stop: threading.Event) -> int:
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        submission = api.call("GET", f"/submissions/{args.submission}")
    except ApiError as error:
        print(f"datameta download: {error}", file=sys.stderr)
        return UNREACHABLE if error.status in (0, 401) else FAILED
    ids = [identifier["uuid"] for identifier in submission["fileIds"]]
    files = [api.call("GET", f"/files/{file_id}") for file_id in ids]
    bar = tqdm(
        total=sum(file["filesize"] or 0 for file in files),
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=submission["id"]["site"],
        disable=args.quiet,
    )
    failed = 0

    def one(file_id: str) -> None:
        nonlocal failed
        try:
            path = download_file(api, file_id, folder, stop=stop, bar=bar)
            tqdm.write(f"{path}\tMD5 checked")
        except Stopped:
            return
        except (ApiError, requests.RequestException, OSError) as error:
            failed += 1
            tqdm.write(f"{file_id}: failed: {error}", file=sys.stderr)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(one, ids))
    bar.close()
    if stop.is_set():
        print("datameta download: interrupted; run the same command to resume", file=sys.stderr)
        return INTERRUPTED
    return FAILED if failed else OK


# -- the command ----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="datameta",
        description="Upload data files to a DataMeta site in parts, or download the files of "
        "a submission, in parallel and resumable, with MD5 checks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    upload = commands.add_parser(
        "upload",
        help="upload files as pending files of your account",
        description="Upload files in parts straight to the site's storage. Each file is "
        "read and hashed once: every part's MD5 is signed into its upload URL, so the "
        "storage refuses a part whose bytes differ, and the completion names the parts "
        "sent (their multipart ETag), which the site compares with the parts stored. "
        "The parts are thus verified by the storage, and the whole object by the site, "
        "which computes its MD5 and SHA-256 in the background and records that MD5 as "
        "the file's checksum (`datameta download` checks it). Prints one line per "
        "file: path, file id, parts sent. Run the same command again after an "
        "interruption: parts already stored are skipped.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("files", nargs="+", metavar="FILE", help="files to upload")
    upload.add_argument(
        "-j", "--jobs", type=int, default=4, help="parts in flight per file (default: 4)"
    )
    upload.add_argument(
        "--files-at-once", type=int, default=2, help="files uploaded at once (default: 2)"
    )
    upload.add_argument(
        "--state",
        default=STATE_FILE,
        help=f"file that remembers uploads for resuming (default: ./{STATE_FILE})",
    )
    upload.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    download = commands.add_parser(
        "download",
        help="download every file of a submission",
        description="Download every file of a submission in parallel into a folder. "
        "Partial files (NAME.part) are resumed; each file's MD5 is checked, and a file "
        "whose MD5 differs is removed and reported.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    download.add_argument("submission", help="the submission's id (DMS-... or its UUID)")
    download.add_argument(
        "-o", "--output", default=".", help="folder for the files (default: here)"
    )
    download.add_argument(
        "-j", "--jobs", type=int, default=4, help="files downloaded at once (default: 4)"
    )
    download.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    url, token = os.environ.get("DATAMETA_URL"), os.environ.get("DATAMETA_TOKEN")
    if not url or not token:
        print("datameta: set DATAMETA_URL and DATAMETA_TOKEN", file=sys.stderr)
        return USAGE
    if args.jobs < 1 or getattr(args, "files_at_once", 1) < 1:
        print("datameta: --jobs and --files-at-once must be at least 1", file=sys.stderr)
        return USAGE
    stop = threading.Event()
    # Ctrl-C or SIGTERM: finish no new part, keep what S3 holds, exit for a later resume.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # The key is checked by the first call each command makes (unreachable or refused:
    # exit 3), not by a call of its own: each request costs the site CPU time.
    api = Api(url, token)
    run = run_upload if args.command == "upload" else run_download
    return run(api, args, stop)


if __name__ == "__main__":
    sys.exit(main())
