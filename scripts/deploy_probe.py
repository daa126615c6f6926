"""Probes of a deployed stack that need to reach one app replica in particular.

The deployment test runs it inside a replica's container (standard library only,
so the image needs nothing extra), against that replica's own port:
  docker exec -i CONTAINER python3 - COMMAND ARGS... < scripts/deploy_probe.py

  login EMAIL PASSWORD       log in through the page; print the session cookie
  whoami COOKIE              print the email of the session's user (exit 1 if none)
  stage-twins EMAIL PASSWORD create an API key and stage two records with the same
                             site-unique sample id; print the key and the two set ids
  submit KEY SET_ID          submit one staged set; print the HTTP status
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import time
import urllib.parse

SITE_UNIQUE_COLUMN = "E2ESampleId"  # defined by scripts/e2e_api.py


def call(method: str, path: str, headers: dict[str, str], body: str | None = None) -> tuple:
    """One request to this replica's own port, redirects not followed: (status, text, response)."""
    connection = http.client.HTTPConnection("127.0.0.1", 8080, timeout=30)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read().decode(), response


def call_json(method: str, path: str, body: object, key: str = "") -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    status, text, _ = call(method, path, headers, json.dumps(body))
    return status, json.loads(text) if text else None


def page_call(method: str, path: str, cookies: dict[str, str], form: dict | None = None) -> str:
    """A page request that keeps the cookies it sets.

    The session cookie is marked Secure (production runs behind TLS), so it is
    handed on by hand over this plain connection, as a browser behind TLS would.
    """
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    _, text, response = call(method, path, headers, body)
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
    return text


def login(email: str, password: str) -> str:
    cookies: dict[str, str] = {}
    page = page_call("GET", "/login", cookies)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise SystemExit("login: the page has no CSRF token")
    form = {"email": email, "password": password, "csrf_token": token.group(1)}
    page_call("POST", "/login", cookies, form)
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def whoami(cookie: str) -> str:
    status, text, _ = call("GET", "/api/v1/rpc/whoami", {"Cookie": cookie})
    if status != 200:
        raise SystemExit(f"whoami: {status} {text}")
    return json.loads(text)["email"]


def stage_twins(email: str, password: str) -> str:
    login_body = {"email": email, "password": password, "label": "race"}
    status, key = call_json("POST", "/api/v1/keys", login_body)
    if status != 200:
        raise SystemExit(f"stage-twins: creating a key answered {status}: {key}")
    token = key["token"]  # type: ignore[index]
    sample = f"E2E-{int(time.time() * 1000)}"
    set_ids = []
    for _ in range(2):
        record = {"record": {SITE_UNIQUE_COLUMN: sample}}
        status, staged = call_json("POST", "/api/v1/metadatasets", record, token)
        if status != 200:
            raise SystemExit(f"stage-twins: staging answered {status}: {staged}")
        set_ids.append(staged["id"]["site"])  # type: ignore[index]
    return " ".join([token, *set_ids])


def submit(key: str, set_id: str) -> str:
    body = {"metadatasetIds": [set_id], "fileIds": []}
    status, _ = call_json("POST", "/api/v1/submissions", body, key)
    return str(status)


COMMANDS = {"login": login, "whoami": whoami, "stage-twins": stage_twins, "submit": submit}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    print(COMMANDS[sys.argv[1]](*sys.argv[2:]))
