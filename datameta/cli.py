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
import functools
import hashlib
import http.client
import io
import itertools
import json
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Generator
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
LOOKAHEAD_BYTES = 1024**3
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
    """Where a part lies in the file, and its MD5 (hex)."""

    number: int
    offset: int
    length: int
    md5: str


def _hash_parts(local: Path, size: int, part_size: int) -> Generator[Part, None, None]:
    """The file's parts in order, read once front to back, each with its MD5.

    Only a few chunks are held at a time: the bytes of a part are read again from
    the page cache when it is sent, a little later.
    """
    with local.open("rb", buffering=0) as stream:
        for number in range(1, max(1, -(-size // part_size)) + 1):
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            md5 = hashlib.md5(usedforsecurity=False)
            left = length
            while left:
                chunk = stream.read(min(HASH_CHUNK, left))
                if not chunk:
                    raise OSError(f"{local} became shorter while it was being uploaded")
                md5.update(chunk)
                left -= len(chunk)
            yield Part(number, offset, length, md5.hexdigest())


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

    One thread reads and hashes the file front to back while ``jobs`` threads send
    the parts whose URLs are signed. URLs are asked for in large batches (few API
    calls per GiB): whenever the senders are about to run out of signed parts, for
    every part hashed by then. Hashing runs at most LOOKAHEAD_BYTES ahead of the
    sending, so that the parts are still in the page cache when they are sent.
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
            held = {p["partNumber"]: p for p in upload["parts"]}
        except ApiError as error:
            if error.status != 404:
                raise
    first: list[Part] = []  # hashed before the start, which signs them
    if upload is None:
        part_size = expected_part_size(size)
        hashed = _hash_parts(local, size, part_size)
        first = list(itertools.islice(hashed, jobs))
        wanted = [{"partNumber": p.number, "md5": p.md5} for p in first]
        upload = api.call(
            "POST",
            "/multipart-uploads",
            {"name": local.name, "size": size, "partSize": part_size, "parts": wanted},
        )
        state.put(local, uuid=upload["fileId"]["uuid"], site=upload["fileId"]["site"])
        if upload["partSize"] != part_size:  # the site chose another size: hash again
            hashed.close()
            first = []
    file_id = upload["fileId"]["uuid"]
    part_size = upload["partSize"]
    if not first:
        hashed = _hash_parts(local, size, part_size)
    signed_at_start = {url["partNumber"]: url for url in upload.get("partUrls", ())}
    lookahead = max(2 * jobs, LOOKAHEAD_BYTES // part_size)
    digests: list[bytes] = []  # every part's MD5, in order, for the multipart ETag
    sender = _PartSender()
    resumed = sent = 0
    in_flight: set[Future[None]] = set()
    pending: list[Part] = []  # hashed, not signed yet

    def sign_pending() -> None:
        nonlocal sent, pending
        while pending:
            batch, pending = pending[:URLS_PER_REQUEST], pending[URLS_PER_REQUEST:]
            wanted = [{"partNumber": p.number, "md5": p.md5} for p in batch]
            urls = _retrying(
                functools.partial(
                    api.call, "POST", f"/multipart-uploads/{file_id}/part-urls", {"parts": wanted}
                ),
                stop,
                "part URLs",
            )["parts"]
            for part, url in zip(batch, urls, strict=True):
                in_flight.add(pool.submit(send_part, part, url))
                sent += 1

    def send_part(part: Part, url: dict[str, Any]) -> None:
        _retrying(lambda: _put_part(sender, url, fd, part), stop, f"part {part.number}")
        bar.update(part.length)

    def settle(block: bool) -> None:
        """Take finished sends (waiting for one if ``block``); a failed one raises."""
        done, _ = wait(in_flight, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        in_flight.difference_update(done)
        for future in done:
            future.result()

    fd = os.open(local, os.O_RDONLY)
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            try:
                for part in itertools.chain(first, hashed):
                    if stop.is_set():
                        raise Stopped()
                    digests.append(bytes.fromhex(part.md5))
                    held_part = held.get(part.number)
                    if held_part and held_part["etag"].strip('"') == part.md5:
                        resumed += 1
                        bar.update(part.length)
                        continue
                    if part.number in signed_at_start:
                        in_flight.add(pool.submit(send_part, part, signed_at_start[part.number]))
                        sent += 1
                        continue
                    pending.append(part)
                    settle(block=False)
                    # A sender is about to go idle: sign every part hashed by then.
                    if len(in_flight) < jobs and len(pending) >= jobs - len(in_flight):
                        sign_pending()
                    while len(pending) + len(in_flight) >= lookahead:
                        if pending and len(in_flight) < jobs:
                            sign_pending()
                        else:
                            settle(block=True)
                sign_pending()
                while in_flight:
                    settle(block=True)
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
    finally:
        os.close(fd)
        hashed.close()
    etag = multipart_etag(digests)
    _retrying(
        lambda: api.call("POST", f"/multipart-uploads/{file_id}/complete", {"multipartEtag": etag}),
        stop,
        "completion",
    )
    state.put(local, uuid=file_id, site=upload["fileId"]["site"], done=True, multipartEtag=etag)
    return UploadResult(upload["fileId"]["site"], resumed, sent)


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
