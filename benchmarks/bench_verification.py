"""The worker's verification speed: one stored object read once, MD5 and SHA-256 computed.

Usage (with `make run` up, or any stack whose env.sh is sourced):
    .venv/bin/python -m benchmarks.bench_verification [MiB ...]

For each size, stores an object of that many MiB in the bucket (multipart, from
memory), then verifies it as the worker does (``logic.verification.digest_object``)
and reports wall time, CPU seconds of this process, MiB per CPU second (the figure
per core) and the process's peak resident memory growth. The object is deleted after.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import time

from datameta.config import parse_settings
from datameta.logic.verification import digest_object
from datameta.storage import MiB, storage_from_settings

BLOCK = os.urandom(MiB)


class Repeating(io.RawIOBase):
    """``size`` bytes of a random MiB repeated, without holding them."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.left, len(BLOCK))
        buffer[:count] = BLOCK[:count]
        self.left -= count
        return count


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(sizes: list[int]) -> None:
    settings = parse_settings(
        {"datameta.session.secret": "x" * 40, "datameta.links_from_request": "true"}
    )
    storage = storage_from_settings(settings)
    print("| object | wall time | CPU time | MiB/s (wall) | MiB per CPU second | peak RSS growth |")
    print("|---|---|---|---|---|---|")
    for size_mib in sizes:
        key = f"bench/verification-{size_mib}"
        storage.upload_stream(key, io.BufferedReader(Repeating(size_mib * MiB), 8 * MiB))
        before_rss = peak_rss_mib()
        wall, cpu = time.perf_counter(), time.process_time()
        digests = digest_object(storage, key)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert digests.size == size_mib * MiB
        storage.delete(key)
        print(
            f"| {size_mib} MiB | {wall:.1f} s | {cpu:.1f} s | {size_mib / wall:.0f} | "
            f"{size_mib / cpu:.0f} | {peak_rss_mib() - before_rss:.0f} MiB |"
        )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1024, 5120])
