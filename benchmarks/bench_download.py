"""Download speed from the stack's S3 server: a presigned GET next to plain boto3.

    .venv/bin/python -m benchmarks.bench_download [--mib 1024] [--runs 3]

Against the S3 server of `make run` (or a sourced env.sh, DATAMETA_STACK_DIR naming its
folder): stores one object of that size once, then reads it whole ``--runs`` times each
way: as a client of the app does (``requests`` streaming a presigned URL, 1 MiB reads)
and with boto3's ``download_fileobj`` (its defaults: 8 MiB parts, 10 in flight). The bytes
are thrown away. For each read: MiB/s, the client's CPU time, and how far the S3 server's
peak resident memory (VmHWM, reset before each read) rose above its resident memory before.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from benchmarks.common import stack_environ

KEY = "bench/download-{mib}MiB"


class Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def s3_client(environ: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=environ["DATAMETA_STORAGE_S3_ENDPOINT_URL"],
        aws_access_key_id=environ["DATAMETA_STORAGE_S3_ACCESS_KEY"],
        aws_secret_access_key=environ["DATAMETA_STORAGE_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def server_pid(environ: dict[str, str]) -> int | None:
    pid_file = Path(environ.get("DATAMETA_STACK_DIR", "")) / "weed.pid"
    return int(pid_file.read_text()) if pid_file.is_file() else None


def memory_kib(pid: int | None, field: str) -> int:
    if pid is None:
        return 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int | None) -> None:
    """Let VmHWM start again from the current resident set (Linux: clear_refs 5)."""
    if pid is not None:
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def ensure_object(client: Any, bucket: str, key: str, mib: int) -> None:
    try:
        if client.head_object(Bucket=bucket, Key=key)["ContentLength"] == mib << 20:
            return
    except client.exceptions.ClientError:
        pass
    block = os.urandom(1 << 20)

    class Source(io.RawIOBase):
        def __init__(self) -> None:
            self.left = mib << 20

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            size = min(len(buffer), self.left, len(block))
            buffer[:size] = block[:size]
            self.left -= size
            return size

    client.upload_fileobj(io.BufferedReader(Source(), 1 << 20), bucket, key)


def presigned_get(client: Any, bucket: str, key: str) -> int:
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600
    )
    total = 0
    with requests.get(url, stream=True, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            total += len(chunk)
    return total


def boto3_get(client: Any, bucket: str, key: str) -> int:
    client.download_fileobj(bucket, key, Discard())
    return client.head_object(Bucket=bucket, Key=key)["ContentLength"]


def measure(how: str, read: Any, mib: int, pid: int | None) -> dict[str, float]:
    before = memory_kib(pid, "VmRSS")
    reset_peak(pid)
    cpu, wall = time.process_time(), time.perf_counter()
    size = read()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert size == mib << 20, (how, size)
    return {
        "mib_per_s": mib / wall,
        "client_cpu_s": cpu,
        "server_peak_growth_mib": (memory_kib(pid, "VmHWM") - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    environ = stack_environ()
    client, bucket = s3_client(environ), environ["DATAMETA_STORAGE_S3_BUCKET"]
    key, pid = KEY.format(mib=args.mib), server_pid(environ)
    ensure_object(client, bucket, key, args.mib)
    ways = {
        "presigned GET (requests)": lambda: presigned_get(client, bucket, key),
        "boto3 download_fileobj": lambda: boto3_get(client, bucket, key),
    }
    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print("| read | MiB/s (median, runs) | client CPU s | S3 server peak growth MiB |")
    print("|---|---|---|---|")
    for how, read in ways.items():
        runs = [measure(how, read, args.mib, pid) for _ in range(args.runs)]
        rates = [r["mib_per_s"] for r in runs]
        print(
            f"| {how} | {statistics.median(rates):.0f} ({', '.join(f'{r:.0f}' for r in rates)})"
            f" | {statistics.median(r['client_cpu_s'] for r in runs):.2f}"
            f" | {max(r['server_peak_growth_mib'] for r in runs):.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
