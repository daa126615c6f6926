"""Large files go up in parts from the submit page, and survive a reload.

A file above the threshold is uploaded in parts (four in flight, each signed with
its MD5 from a Web Worker). The page is reloaded in the middle; the submitter
drops the same file again, and only the parts S3 does not hold yet are sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_submit_page import open_submit_page
from tests.factories import PART, make_api_key, make_user, settled_verification
from tests.helpers import api_headers

pytestmark = pytest.mark.browser

# 192 MiB: above the 64 MiB threshold, and enough parts that the upload is still running
# when the test reloads the page (the page sends parts in groups, 4 at a time).
PARTS = 12


def requested_urls(page: Page, method: str, matches: Callable[[str], bool]) -> list[str]:
    """Collects the URLs of the page's ``method`` requests that ``matches`` from now on."""
    urls: list[str] = []
    page.on(
        "request",
        lambda request: (
            urls.append(request.url) if request.method == method and matches(request.url) else None
        ),
    )
    return urls


def part_puts(page: Page) -> list[str]:
    """Collects the URLs of part uploads the page sends from now on."""
    return requested_urls(page, "PUT", lambda url: "partNumber=" in url)


def part_url_requests(page: Page) -> list[str]:
    """Collects the page's requests for part URLs from now on."""
    return requested_urls(page, "POST", lambda url: url.endswith("/part-urls"))


def test_a_large_file_resumes_after_a_reload_without_resending_stored_parts(
    page, screenshots, live_server, live_app, committed_db, worker, tmp_path
):
    user = make_user(committed_db, email="big@example.org")
    key = make_api_key(committed_db, user)
    committed_db.commit()
    data = tmp_path / "run1.bam"
    data.write_bytes(hashlib.sha256(b"big").digest() * (PART * PARTS // 32) + b"tail")

    open_submit_page(page, "big@example.org")
    page.set_input_files("#data-input", str(data))
    row = page.locator("#files-table tbody tr[data-name='run1.bam']")
    # Wait until S3 holds some parts, then reload in the middle of the upload.
    file_id = None
    for _ in range(600):
        pending = live_app.get(
            f"/api/v1/users/{user.uuid}/pending_files", headers=api_headers(key)
        ).json
        if pending:
            file_id = pending[0]["id"]["uuid"]
            upload = live_app.get(
                f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(key)
            ).json
            if len(upload["parts"]) >= 2:
                break
        page.wait_for_timeout(50)
    screenshots.take("uploading")
    page.reload()
    page.wait_for_selector("#submit-app[data-ready=true]")
    stored = live_app.get(f"/api/v1/multipart-uploads/{file_id}", headers=api_headers(key)).json
    stored_parts = len(stored["parts"])
    assert 2 <= stored_parts < PARTS + 1
    expect(row).to_contain_text("add the file again to resume")
    screenshots.take("after-reload")

    sent = part_puts(page)
    url_requests = part_url_requests(page)
    page.set_input_files("#data-input", str(data))
    expect(row).to_contain_text("verif", timeout=120_000)
    screenshots.take("completed")
    assert len(sent) == PARTS + 1 - stored_parts
    # URLs are asked for in groups of parts, not one request per part.
    assert 1 <= len(url_requests) <= 1 + len(sent) // 4
    state = settled_verification(live_app, key, file_id)
    assert state["state"] == "verified"
    assert state["checksum"] == hashlib.md5(data.read_bytes()).hexdigest()  # noqa: S324
    expect(row).to_contain_text("uploaded", timeout=30_000)
    expect(row).to_contain_text(f"SHA-256 {hashlib.sha256(data.read_bytes()).hexdigest()}")
    screenshots.take("verified")
