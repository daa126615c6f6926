"""The command line against a plain boto3 multipart upload of the same file.

Usage (with the app served and its stack's env.sh sourced):
    DATAMETA_URL=http://localhost:6543 DATAMETA_TOKEN=<key> DATAMETA_APP_PID=<pid> \\
        .venv/bin/python -m benchmarks.bench_cli_upload [MiB ...]

For each size, writes a file of that many MiB, uploads it to the bucket with
boto3 (16 MiB parts, 4 in flight), then with ``datameta upload`` (4 parts in
flight, part MD5s and the whole-file MD5 computed on the way), and reports both
throughputs, the app process's CPU time per GiB (from /proc) and the command
line's peak resident memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MiB = 1024 * 1024
BLOCK = os.urandom(MiB)


def app_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def boto3_upload(path: Path) -> float:
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["DATAMETA_STORAGE_S3_ENDPOINT_URL"],
        aws_access_key_id=os.environ["DATAMETA_STORAGE_S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["DATAMETA_STORAGE_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    config = TransferConfig(multipart_chunksize=16 * MiB, max_concurrency=4)
    bucket = os.environ["DATAMETA_STORAGE_S3_BUCKET"]
    start = time.perf_counter()
    client.upload_file(str(path), bucket, f"bench/{path.name}", Config=config)
    elapsed = time.perf_counter() - start
    client.delete_object(Bucket=bucket, Key=f"bench/{path.name}")
    return elapsed


def cli_upload(path: Path, state: Path) -> tuple[float, float]:
    """Seconds, and the command line's peak RSS in MiB."""
    datameta = str(Path(sys.executable).parent / "datameta")
    start = time.perf_counter()
    command = [datameta, "upload", "-q", "--state", str(state), str(path)]
    process = subprocess.Popen(command)  # noqa: S603 (our own command, fixed arguments)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    assert status == 0, status
    return elapsed, usage.ru_maxrss / 1024


def main(sizes: list[int]) -> None:
    app_pid = int(os.environ["DATAMETA_APP_PID"])
    print(
        "| file | boto3 | datameta upload | ratio | app CPU per GiB | datameta peak RSS |\n"
        "|---|---|---|---|---|---|"
    )
    for size_mib in sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
            path = Path(folder) / f"bench-{size_mib}.bin"
            with path.open("wb") as out:
                for _ in range(size_mib):
                    out.write(BLOCK)
            plain = boto3_upload(path)
            cpu_before = app_cpu_seconds(app_pid)
            ours, rss = cli_upload(path, Path(folder) / "state.json")
            app_cpu = app_cpu_seconds(app_pid) - cpu_before
            gib = size_mib / 1024
            print(
                f"| {size_mib} MiB | {size_mib / plain:.0f} MiB/s | {size_mib / ours:.0f} MiB/s | "
                f"{plain / ours:.0%} | {app_cpu / gib:.3f} s | {rss:.0f} MiB |"
            )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1024, 5120])
