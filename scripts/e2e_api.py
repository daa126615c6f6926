"""End to end through the public API, as a scripting user would go, with plain `requests`.

Against `make run`:   .venv/bin/python scripts/e2e_api.py
(reads the admin's login from var/admin.env; or pass --url, --email, --password)

Creates the definitions it needs (once), stages records, uploads files with the
presigned URLs and headers exactly as answered, confirms them, prevalidates,
submits, lists, downloads through get-file-url and compares bytes and MD5.
Exits non-zero at the first step that does not behave.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

DEFINITIONS = [
    {
        "name": "E2ESampleId",
        "regexDescription": "E2E- followed by digits",
        "longDescription": "Identifier of the sample",
        "example": "E2E-1",
        "regExp": "E2E-[0-9]+",
        "dateTimeFmt": "",
        "isMandatory": True,
        "order": 900,
        "isFile": False,
        "isSubmissionUnique": True,
        "isSiteUnique": True,
        "serviceId": "",
    },
    {
        "name": "E2ECollected",
        "regexDescription": "",
        "longDescription": "Date of collection",
        "example": "2024-01-31",
        "regExp": "",
        "dateTimeFmt": "%Y-%m-%d",
        "isMandatory": False,
        "order": 901,
        "isFile": False,
        "isSubmissionUnique": False,
        "isSiteUnique": False,
        "serviceId": "",
    },
    {
        "name": "E2EReads",
        "regexDescription": "",
        "longDescription": "Sequencing reads",
        "example": "E2E-1.fastq.gz",
        "regExp": "",
        "dateTimeFmt": "",
        "isMandatory": False,
        "order": 902,
        "isFile": True,
        "isSubmissionUnique": False,
        "isSiteUnique": False,
        "serviceId": "",
    },
]


class StepFailed(Exception):
    pass


def expect(response: requests.Response, status: int, step: str) -> requests.Response:
    if response.status_code != status:
        raise StepFailed(f"{step}: expected {status}, got {response.status_code}: {response.text}")
    print(f"ok  {step}")
    return response


def admin_login(repo: Path) -> tuple[str, str]:
    values = {}
    for line in (repo / "var" / "admin.env").read_text().splitlines():
        name, _, value = line.partition("=")
        values[name] = shlex.split(value)[0] if value else ""
    return values["ADMIN_EMAIL"], values["ADMIN_PASSWORD"]


def run(url: str, email: str, password: str) -> None:
    api = url.rstrip("/") + "/api/v1"
    http = requests.Session()
    key = expect(
        http.post(f"{api}/keys", json={"email": email, "password": password, "label": "e2e"}),
        200,
        "create an API key with email and password",
    ).json()
    http = requests.Session()  # from here on, only the key authenticates
    http.headers["Authorization"] = f"Bearer {key['token']}"

    existing = {
        d["name"] for d in expect(http.get(f"{api}/metadata"), 200, "list definitions").json()
    }
    for definition in DEFINITIONS:
        if definition["name"] not in existing:
            expect(
                http.post(f"{api}/metadata", json=definition), 200, f"define {definition['name']}"
            )

    run_id = int(time.time() * 1000)
    samples = [f"E2E-{run_id}{index}" for index in range(3)]
    contents = {f"{sample}.fastq.gz": os.urandom(256 * 1024) for sample in samples}

    set_ids = []
    for sample in samples:
        record = {
            "E2ESampleId": sample,
            "E2ECollected": "2024-01-31",
            "E2EReads": f"{sample}.fastq.gz",
        }
        staged = expect(
            http.post(f"{api}/metadatasets", json={"record": record}), 200, f"stage {sample}"
        )
        set_ids.append(staged.json()["id"]["site"])

    file_ids = []
    for name, content in contents.items():
        md5 = hashlib.md5(content).hexdigest()  # noqa: S324 (the checksum DataMeta announces)
        announced = expect(
            http.post(f"{api}/files", json={"name": name, "checksum": md5}), 200, f"announce {name}"
        ).json()
        upload = requests.put(
            announced["urlToUpload"], data=content, headers=announced["requestHeaders"], timeout=60
        )
        expect(upload, 200, f"upload {name} to the answered URL")
        corrupted = requests.put(
            announced["urlToUpload"],
            data=content[:-1] + b"!",
            headers=announced["requestHeaders"],
            timeout=60,
        )
        expect(corrupted, 400, f"storage refuses corrupted bytes of {name}")
        confirmed = expect(
            http.put(f"{api}/files/{announced['id']['site']}", json={"contentUploaded": True}),
            200,
            f"confirm {name}",
        ).json()
        if confirmed["filesize"] != len(content):
            raise StepFailed(f"confirm {name}: size {confirmed['filesize']} != {len(content)}")
        file_ids.append(announced["id"]["uuid"])

    wrong = expect(
        http.post(f"{api}/files", json={"name": "wrong.bin", "checksum": "0" * 32}),
        200,
        "announce a file with a wrong checksum",
    ).json()
    expect(
        http.put(f"{api}/files/{wrong['id']['site']}", json={"contentUploaded": True}),
        400,
        "confirming a file never uploaded is refused",
    )
    expect(http.delete(f"{api}/files/{wrong['id']['site']}"), 204, "delete that file")

    body = {"metadatasetIds": set_ids, "fileIds": file_ids, "label": f"e2e {run_id}"}
    expect(http.post(f"{api}/presubvalidation", json=body), 204, "prevalidate")
    before = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    submission = expect(http.post(f"{api}/submissions", json=body), 200, "submit").json()

    listed = expect(
        http.get(f"{api}/metadatasets", params={"submittedAfter": before, "limit": 1000}),
        200,
        "list the metadatasets submitted since",
    ).json()
    if not set(set_ids) <= {mset["id"]["site"] for mset in listed}:
        raise StepFailed("list submitted metadatasets: the new sets are missing")

    for file_id, (name, content) in zip(file_ids, contents.items(), strict=True):
        url = expect(
            http.get(f"{api}/rpc/get-file-url/{file_id}", params={"expires": 5}),
            200,
            f"download URL of {name}",
        ).json()
        downloaded = requests.get(url["fileUrl"], timeout=60)
        expect(downloaded, 200, f"download {name}")
        md5 = hashlib.md5(downloaded.content).hexdigest()  # noqa: S324
        if downloaded.content != content or md5 != url["checksum"]:
            raise StepFailed(f"download {name}: the bytes differ")
        print(f"ok  {name}: {len(content)} bytes and MD5 {url['checksum']} match")
    counts = f"{len(set_ids)} records and {len(file_ids)} files"
    print(f"submission {submission['id']['site']} with {counts}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:6543")
    parser.add_argument("--email")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    email, password = args.email, args.password
    if email is None or password is None:
        email, password = admin_login(Path(__file__).resolve().parents[1])
    try:
        run(args.url, email, password)
    except StepFailed as failure:
        print(f"FAILED {failure}", file=sys.stderr)
        return 1
    print("end-to-end run passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
