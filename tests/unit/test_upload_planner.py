"""When `datameta upload` asks the site for part URLs: as few calls as keep the senders busy.

Every API call costs the site CPU time, so a file's URLs come with the start (for
the first parts, hashed before it) and in as few later calls as possible, never
leaving the senders without a signed part while the rest is being hashed. The
planner is pure; these tests drive it with a small simulation of hashing and
sending (no services).
"""

import base64
import hashlib
import os
import threading
from concurrent.futures import Executor, Future

import pytest

from datameta import cli
from datameta.cli import (
    URLS_PER_REQUEST,
    Part,
    expected_part_size,
    first_batch,
    lookahead_parts,
    urls_to_ask_for,
)

MiB = 1024 * 1024
GiB = 1024 * MiB
JOBS = 4


def parts_of(size: int) -> int:
    return -(-size // expected_part_size(size))


def simulate(
    total: int, *, hash_speedup: float = 5.0, jobs: int = JOBS, lookahead: int | None = None
) -> dict:
    """An upload of ``total`` parts as the command line runs it, in time steps.

    The senders together send one part per time unit (each of ``jobs`` senders a
    part in ``jobs`` units); hashing is ``hash_speedup`` times as fast and runs at
    most ``lookahead`` parts ahead of the parts sent. Returns the API calls (start,
    part-URL calls, completion), the batches asked for, and how long a sender sat
    idle after the start for want of a URL (in parts' sending time).
    """
    lookahead = lookahead or lookahead_parts(16 * MiB, jobs)
    batch = min(URLS_PER_REQUEST, lookahead)
    step = 0.05
    hashed_progress, signed, done = 0.0, 0, 0
    queued: int = 0  # signed, not picked up by a sender
    sending: list[float] = []  # time left of each part being sent
    batches: list[range] = []
    starved = 0.0
    for _ in range(10_000_000):
        if done == total:
            break
        hashed = min(total, int(hashed_progress + 1e-9))
        unsent = queued + len(sending)
        while wanted := urls_to_ask_for(
            total=total, hashed=hashed, signed=signed, unsent=unsent, jobs=jobs, batch=batch
        ):
            assert wanted.start == signed + 1, "URLs are asked for in order, none twice"
            assert wanted.stop - 1 <= hashed, "only hashed parts can be signed"
            assert 1 <= len(wanted) <= batch
            batches.append(wanted)
            signed = wanted.stop - 1
            queued += len(wanted)
            unsent += len(wanted)
        while queued and len(sending) < jobs:
            queued -= 1
            sending.append(float(jobs))
        if batches and len(sending) < jobs and signed < total:
            starved += step * (jobs - len(sending)) / jobs
        if hashed_progress - done < lookahead:
            hashed_progress = min(total, hashed_progress + hash_speedup * step)
        sending = [left - step for left in sending]
        done += sum(1 for left in sending if left <= 1e-9)
        sending = [left for left in sending if left > 1e-9]
    else:
        raise AssertionError("the upload stalled")
    assert signed == total
    return {"calls": len(batches) + 1, "batches": [len(b) for b in batches], "starved": starved}


def test_a_1_gib_upload_takes_three_calls_start_one_batch_completion():
    result = simulate(parts_of(GiB))
    assert result["calls"] == 3
    assert result["batches"] == [16, 48]  # the start signs a quarter, one call the rest
    assert result["starved"] == 0


def test_a_1_gib_upload_on_a_busy_machine_still_takes_three_calls():
    # Hashing only three times as fast as sending (the cores shared with much else).
    result = simulate(parts_of(GiB), hash_speedup=3.2)
    assert result["calls"] == 3
    assert result["starved"] == 0


def test_when_hashing_barely_outruns_sending_the_senders_still_never_starve_for_long():
    # Hashing as slow as sending: more calls, each as soon as a sender is idle.
    result = simulate(parts_of(GiB), hash_speedup=1.2)
    assert result["calls"] > 3
    assert result["starved"] < 2  # at most about two parts' sending time lost


def test_a_5_gib_upload_takes_five_calls():
    # 320 parts: 80 with the start, then 100, 100 and 40.
    result = simulate(parts_of(5 * GiB))
    assert result["calls"] == 5
    assert result["batches"] == [80, 100, 100, 40]
    assert result["starved"] == 0


def test_a_100_gib_upload_asks_for_full_batches():
    result = simulate(parts_of(100 * GiB), hash_speedup=5)
    total = parts_of(100 * GiB)
    assert total == 6400
    # The start (100) and full batches of 100: 1 + 63 + completion.
    assert result["calls"] == 65
    assert result["starved"] == 0


def test_parts_too_large_to_hash_far_ahead_come_in_batches_as_large_as_allowed():
    size = 1024 * GiB  # 1 TiB: 9,987 parts of 105 MiB
    total = parts_of(size)
    assert 9_900 < total <= 10_000
    lookahead = lookahead_parts(expected_part_size(size), JOBS)
    # The parts hashed ahead of the sending stay in the page cache until sent.
    assert lookahead * expected_part_size(size) <= cli.LOOKAHEAD_BYTES
    result = simulate(total, lookahead=lookahead)
    batch = min(URLS_PER_REQUEST, lookahead)
    assert max(result["batches"]) == batch
    # More than ten parts (a GiB) per call on average.
    assert result["calls"] * 10 < total
    assert result["starved"] == 0
    assert result["starved"] == 0


def test_the_10000_part_limit_with_16_mib_parts_takes_101_calls():
    result = simulate(10_000)
    assert result["calls"] == 1 + 99 + 1
    assert result["starved"] == 0


@pytest.mark.parametrize(("size", "calls"), [(1, 2), (16 * MiB, 2), (4 * 16 * MiB, 2)])
def test_a_file_of_up_to_jobs_parts_takes_two_calls(size, calls):
    assert simulate(parts_of(size))["calls"] == calls


def test_one_part_is_signed_by_the_start():
    assert first_batch(1, JOBS) == 1
    assert urls_to_ask_for(total=1, hashed=0, signed=0, unsent=0, jobs=JOBS) == range(0)
    assert urls_to_ask_for(total=1, hashed=1, signed=0, unsent=0, jobs=JOBS) == range(1, 2)


def test_a_small_file_of_ten_parts_takes_three_calls():
    result = simulate(10)
    assert result["batches"] == [4, 6]
    assert result["starved"] == 0


def test_the_start_waits_for_its_share_of_the_parts():
    assert first_batch(64, JOBS) == 16
    assert urls_to_ask_for(total=64, hashed=15, signed=0, unsent=0, jobs=JOBS) == range(0)
    assert urls_to_ask_for(total=64, hashed=16, signed=0, unsent=0, jobs=JOBS) == range(1, 17)
    # Never more than one call carries, nor more than hashing may run ahead.
    assert first_batch(10_000, JOBS) == URLS_PER_REQUEST
    assert first_batch(10_000, JOBS, batch=8) == 8


def test_later_parts_wait_until_all_are_hashed_while_the_senders_are_busy():
    busy = {"total": 64, "signed": 16, "unsent": 10, "jobs": JOBS}
    assert urls_to_ask_for(hashed=40, **busy) == range(0)
    assert urls_to_ask_for(hashed=64, **busy) == range(17, 65)


def test_an_idle_sender_gets_urls_for_what_is_hashed_by_then():
    low = {"total": 64, "signed": 16, "jobs": JOBS}
    # One sender idle: enough hashed for it.
    assert urls_to_ask_for(hashed=30, unsent=3, **low) == range(17, 31)
    # Every sender idle, too few hashed to keep them all busy: wait a moment.
    assert urls_to_ask_for(hashed=18, unsent=0, **low) == range(0)


def test_a_full_batch_is_asked_for_at_once():
    assert urls_to_ask_for(total=320, hashed=180, signed=80, unsent=50, jobs=JOBS) == range(81, 181)


def test_consecutive_parts_are_named_compactly_and_others_as_a_list():
    parts = [Part(n, 0, 1, bytes([n]) * 16) for n in (3, 4, 5)]
    assert cli._urls_body(parts) == {
        "firstPart": 3,
        "md5s": [base64.b64encode(p.md5).decode() for p in parts],
    }
    gap = [parts[0], parts[2]]
    assert cli._urls_body(gap) == {
        "parts": [{"partNumber": 3, "md5": "03" * 16}, {"partNumber": 5, "md5": "05" * 16}]
    }


class _AtOnce(Executor):
    """Runs each job as it is submitted: every part is hashed (and sent) by the time
    the upload looks, as on a machine where hashing far outruns the loop."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class _FakeSite:
    """Answers the start and the part-URL calls as the API does; counts them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def call(self, method: str, path: str, body=None, **params):
        self.calls.append(path)
        if path == "/multipart-uploads":
            urls = [{"partNumber": n + 1} for n in range(len(body["md5s"]))]
            upload = {"fileId": {"uuid": "u", "site": "F1"}, "partSize": body["partSize"]}
            return {**upload, "partUrls": urls}
        first = body["firstPart"]
        return {"parts": [{"partNumber": first + n} for n in range(len(body["md5s"]))]}


@pytest.mark.parametrize("held_parts", [0, 2], ids=["fresh", "resumed"])
def test_an_upload_whose_parts_are_hashed_before_it_looks_never_stalls(
    tmp_path, monkeypatch, held_parts
):
    # 40 parts: the start's share (10) is more than one round of hashing holds.
    part_size, count = 64 * 1024, 40
    data = tmp_path / "reads.bam"
    data.write_bytes(bytes(range(256)) * (part_size * count // 256))
    monkeypatch.setattr(cli, "expected_part_size", lambda size: part_size)
    monkeypatch.setattr(cli._PartSender, "put", lambda self, url, fd, part: 200)
    upload, held = None, {}
    if held_parts:  # S3 holds the first parts of an earlier run (all alike here)
        upload = {"fileId": {"uuid": "u", "site": "F1"}, "partSize": part_size}
        md5 = hashlib.md5(data.read_bytes()[:part_size], usedforsecurity=False).hexdigest()
        held = dict.fromkeys(range(1, held_parts + 1), md5)
    fd = os.open(data, os.O_RDONLY)
    try:
        size, stop = data.stat().st_size, threading.Event()
        run = cli._FileUpload(
            _FakeSite(), data, size, fd, JOBS, stop, _NoBar(), _AtOnce(), _AtOnce()
        )
        run.send_all(cli.UploadState(tmp_path / "state.json"), upload, held)
    finally:
        os.close(fd)
    assert (run.resumed, run.sent) == (held_parts, count - held_parts)


class _NoBar:
    def update(self, n: int) -> None:
        pass
