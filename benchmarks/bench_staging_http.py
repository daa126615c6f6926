"""Staging throughput of POST /metadatasets over keep-alive HTTP, against `make run`.

    .venv/bin/python -m benchmarks.bench_staging_http [--records 1000] [--clients 1 4]

Uses the admin login of var/admin.env and the definitions of scripts/e2e_api.py
(created if missing); deletes what it staged afterwards.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from benchmarks.common import ROOT
from scripts.e2e_api import DEFINITIONS, admin_login

URL = "http://localhost:6543/api/v1"


def session_with_key() -> requests.Session:
    email, password = admin_login(ROOT)
    key = requests.post(
        f"{URL}/keys", json={"email": email, "password": password, "label": "bench"}, timeout=30
    )
    key.raise_for_status()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key.json()['token']}"
    existing = {d["name"] for d in http.get(f"{URL}/metadata", timeout=30).json()}
    for definition in DEFINITIONS:
        if definition["name"] not in existing:
            http.post(f"{URL}/metadata", json=definition, timeout=30).raise_for_status()
    return http


def stage_many(http: requests.Session, first: int, count: int) -> list[str]:
    staged = []
    for number in range(first, first + count):
        record = {"E2ESampleId": f"E2E-{number}", "E2ECollected": "2024-01-31"}
        response = http.post(f"{URL}/metadatasets", json={"record": record}, timeout=30)
        response.raise_for_status()
        staged.append(response.json()["id"]["site"])
    return staged


def run(records: int, clients: int) -> str:
    sessions = [session_with_key() for _ in range(clients)]
    share = records // clients
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        batches = list(
            pool.map(lambda i: stage_many(sessions[i], i * share, share), range(clients))
        )
    elapsed = time.perf_counter() - started
    for http, staged in zip(sessions, batches, strict=True):
        http.post(
            f"{URL}/rpc/delete-metadatasets", json={"metadatasetIds": staged}, timeout=300
        ).raise_for_status()
    done = share * clients
    return (
        f"| POST /metadatasets, {clients} keep-alive client(s) | {done} records | "
        f"{elapsed:.1f} s | {done / elapsed:.0f} records/s | {1000 * elapsed / done:.1f} ms each |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    print("| operation | data | time | throughput | per record |")
    print("|---|---|---|---|---|")
    for clients in args.clients:
        print(run(args.records, clients), flush=True)


if __name__ == "__main__":
    main()
