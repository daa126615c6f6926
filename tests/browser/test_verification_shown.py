"""The submit page shows where files uploaded in parts stand: SHA-256 once verified, or why not."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from tests.browser.test_submit_page import open_submit_page
from tests.factories import (
    PART,
    complete,
    make_api_key,
    make_user,
    md5_hex,
    settled_verification,
    upload_in_parts,
)

pytestmark = pytest.mark.browser

CONTENT = b"GATTACA!" * (PART // 8) + b"end"


def test_verified_and_failed_files_are_shown_with_sha256_and_reason(
    page, screenshots, live_app, committed_db, worker
):
    user = make_user(committed_db, email="verify@example.org")
    key = make_api_key(committed_db, user)
    committed_db.commit()
    good = upload_in_parts(live_app, key, CONTENT, name="good.bam")
    complete(live_app, key, good, checksum=md5_hex(CONTENT))
    bad = upload_in_parts(live_app, key, CONTENT, name="bad.bam")
    complete(live_app, key, bad, checksum=md5_hex(b"something else"))
    assert settled_verification(live_app, key, good)["state"] == "verified"
    assert settled_verification(live_app, key, bad)["state"] == "failed"

    open_submit_page(page, "verify@example.org")
    good_row = page.locator("#files-table tbody tr[data-name='good.bam']")
    bad_row = page.locator("#files-table tbody tr[data-name='bad.bam']")
    expect(good_row).to_contain_text(f"SHA-256 {hashlib.sha256(CONTENT).hexdigest()}")
    expect(good_row).to_contain_text("uploaded")
    expect(bad_row).to_contain_text("verification failed: The content's MD5 is")
    screenshots.take("verified-and-failed")
