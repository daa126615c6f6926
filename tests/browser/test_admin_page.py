"""The admin page in a real browser: columns, groups and users, mail texts, services.

Each test works through the page as an admin would and checks the outcome where
it matters: on the submit page and in the template, in the group admin's view,
in the next mail, in the API. Screenshots of every section land in
test-output/screenshots/.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import requests
from playwright.sync_api import Browser, Locator, Page, expect

from datameta.logic.metadata import save_definition
from tests.browser.conftest import Screenshots
from tests.factories import (
    DEFAULT_PASSWORD,
    add_request,
    definition_input,
    make_api_key,
    make_group,
    make_user,
    stage,
)
from tests.helpers import api_headers, log_in_page

pytestmark = pytest.mark.browser

EN_DASH = "\N{EN DASH}"  # the users list prints its ranges with it


@pytest.fixture
def site(committed_db):
    """A site admin and a submitter in one lab, with a SampleId column defined."""
    lab = make_group(committed_db, "Sequencing Lab")
    admin = make_user(
        committed_db, group=lab, email="admin@example.org", fullname="Ada Admin", site_admin=True
    )
    submitter = make_user(
        committed_db, group=lab, email="submitter@example.org", fullname="Sam Submitter"
    )
    save_definition(
        committed_db, admin, definition_input("SampleId", 10, mandatory=True, example="S1")
    )
    committed_db.commit()
    return {"lab": lab, "admin": admin, "submitter": submitter}


def log_in(page: Page, email: str) -> None:
    log_in_page(page, email, DEFAULT_PASSWORD)
    # Destructive actions ask first; the tests answer yes.
    page.on("dialog", lambda dialog: dialog.accept())


def new_page(browser: Browser, live_server: str) -> Page:
    page = browser.new_context(base_url=live_server).new_page()
    page.set_default_timeout(10_000)
    return page


def test_a_column_with_a_vocabulary_reaches_the_submit_page_the_template_and_the_check(
    page, browser, live_server, screenshots, site, tmp_path: Path
):
    log_in(page, site["admin"].email)
    page.goto("/admin/columns")
    expect(page.locator("#columns-table tr[data-column=SampleId]")).to_be_visible()
    page.click("#column-new")
    page.fill("#col-name", "Organ")
    page.check("#col-mandatory")
    page.click("#vocabulary-helper summary")
    page.fill("#vocabulary-values", "liver\nheart\nbig.toe")
    page.click("#vocabulary-apply")
    expect(page.locator("#col-regexp")).to_have_value(r"^(liver|heart|big\.toe)$")
    # The live checker: whole values only, and the dot is a dot.
    page.fill("#col-example", "liver")
    page.fill("#col-test", "heart\nliverish\nbigxtoe")
    results = page.locator("#col-test-results li")
    expect(results).to_have_count(4)
    expect(page.locator("#col-test-results li[data-ok=true]")).to_have_count(2)
    expect(page.locator("#col-test-results li[data-value=liverish]")).to_contain_text(
        "does not match"
    )
    screenshots.take("columns-editor-with-checker")
    page.click("#column-save")
    expect(page.locator("#admin-alerts")).to_contain_text("The column Organ was created")
    expect(page.locator("#columns-table tr[data-column=Organ]")).to_contain_text("mandatory")
    screenshots.take("columns-list")

    # The submitter sees the column at once, in the panel and the template.
    submitter = new_page(browser, live_server)
    log_in(submitter, site["submitter"].email)
    submitter.goto("/submit")
    submitter.wait_for_selector("#submit-app[data-ready=true]")
    expect(submitter.locator("#columns-table tr[data-column=Organ]")).to_be_visible()
    Screenshots(submitter, "admin_column_on_submit_page").take("column-panel")
    with submitter.expect_download() as download_info:
        submitter.click("#template-xlsx")
    template = openpyxl.load_workbook(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    assert [cell.value for cell in template["Samples"][1]] == ["SampleId", "Organ"]
    [drop_down] = template["Samples"].data_validations.dataValidation
    assert (drop_down.type, str(drop_down.sqref).split(":")[0]) == ("list", "B2")
    assert [row[0] for row in template["Lists"].iter_rows(values_only=True)] == [
        "liver",
        "heart",
        "big.toe",
    ]

    # A sheet that breaks the rule is reported at the cell.
    sheet = tmp_path / "organs.csv"
    sheet.write_text("SampleId,Organ\nS1,liver\nS2,lung\n")
    submitter.set_input_files("#sheet-input", str(sheet))
    report = submitter.locator(".sheet-report[data-sheet='organs.csv'] .rejected-table")
    expect(report.locator("tr[data-row='3'] td[data-column=Organ].cell-problem")).to_contain_text(
        "One of: liver, heart, big.toe"
    )
    Screenshots(submitter, "admin_column_on_submit_page").take("cell-problem")
    submitter.context.close()


def test_an_admin_creates_a_group_and_makes_a_user_its_admin_who_then_sees_only_it(
    page, browser, live_server, screenshots, site
):
    log_in(page, site["admin"].email)
    page.goto("/admin/groups")
    page.fill("#group-create-name", "Imaging Lab")
    page.click("#group-create button[type=submit]")
    expect(page.locator("#admin-alerts")).to_contain_text("The group Imaging Lab")
    imaging = page.locator("#groups-table tr", has_text="Imaging Lab")
    expect(imaging.locator("td").nth(1)).to_have_text("0")
    screenshots.take("groups")

    page.goto("/admin/users")
    page.fill("#users-search", "Sam")
    row = page.locator("#users-table tbody tr", has_text="Sam Submitter")
    expect(page.locator("#users-table tbody tr:not(.user-editor)")).to_have_count(1)
    row.get_by_role("button", name="Edit Sam Submitter").click()
    editor = page.locator("#users-table tr.user-editor")
    editor.get_by_label("Group", exact=True).select_option(label="Imaging Lab")
    editor.get_by_label("Group admin", exact=True).check()
    screenshots.take("users-editor")
    editor.get_by_role("button", name="Save").click()
    expect(page.locator("#admin-alerts")).to_contain_text(
        "Sam Submitter: saved groupId, groupAdmin"
    )
    expect(row).to_contain_text("Imaging Lab")
    expect(row).to_contain_text("group admin")
    screenshots.take("users")

    # The new group admin sees their group's users and requests, nothing else.
    group_admin = new_page(browser, live_server)
    log_in(group_admin, site["submitter"].email)
    group_admin.goto("/admin/users")
    expect(group_admin.locator("#users-table tbody tr")).to_have_count(1)
    expect(group_admin.locator("#users-table tbody tr")).to_contain_text("Sam Submitter")
    expect(group_admin.locator("#users-summary")).to_have_text(f"1 user, showing 1{EN_DASH}1")
    tabs = group_admin.locator("nav[aria-label='Admin sections'] a")
    expect(tabs).to_have_text(["Users", "Registration requests"])
    expect(group_admin.locator("#users-group-filter")).to_be_hidden()
    Screenshots(group_admin, "admin_group_admin_view").take("users-of-own-group")
    assert group_admin.goto("/admin/columns").status == 403
    group_admin.context.close()


def test_an_editor_opened_after_a_search_stays_open_when_the_typing_delay_ends(page, site):
    """The search reloads the list 250 ms after the last keystroke. When Enter has already
    loaded that same search, the late reload must not redraw the table under an open editor
    (the form being filled in would vanish)."""
    page.clock.install()
    log_in(page, site["admin"].email)
    page.goto("/admin/users")
    users = page.locator("#users-table tbody tr:not(.user-editor)")
    expect(users).to_have_count(2)
    page.clock.pause_at(datetime.now() + timedelta(minutes=1))

    page.fill("#users-search", "Sam")
    page.press("#users-search", "Enter")
    expect(users).to_have_count(1)
    users.get_by_role("button", name="Edit Sam Submitter").click()
    editor = page.locator("#users-table tr.user-editor").element_handle()
    page.clock.run_for(1000)
    page.wait_for_load_state("networkidle")

    assert editor.evaluate("row => row.isConnected")


def test_the_users_list_says_how_many_users_match_over_all_pages(
    page, screenshots, site, committed_db
):
    for number in range(1, 28):
        make_user(committed_db, group=site["lab"], fullname=f"Tess Tester {number:02d}")
    committed_db.commit()
    log_in(page, site["admin"].email)
    page.goto("/admin/users")
    summary = page.locator("#users-summary")
    expect(summary).to_have_text(f"29 users, showing 1{EN_DASH}25")
    expect(page.locator("[data-page=next]")).to_be_enabled()
    page.click("[data-page=next]")
    expect(summary).to_have_text(f"29 users, showing 26{EN_DASH}29")
    expect(page.locator("#users-page-info")).to_have_text(f"26{EN_DASH}29 of 29")
    expect(page.locator("[data-page=next]")).to_be_disabled()
    screenshots.take("users-second-page")
    page.fill("#users-search", "Tess")
    expect(summary).to_have_text(f"27 users, showing 1{EN_DASH}25")


def test_an_edited_mail_text_is_used_by_the_next_mail(
    page, screenshots, site, mailbox, committed_db
):
    registration = add_request(committed_db, group=site["lab"], email="applicant@example.org")
    committed_db.commit()
    log_in(page, site["admin"].email)
    page.goto("/admin/settings")
    setting = page.locator("form.setting[data-key=template_reject]")
    expect(setting.locator("#setting-template_reject-placeholders")).to_contain_text("{fullname}")
    setting.locator("textarea").fill("Dear {fullname},\nthe lab is full this year. {{Sorry}}")
    setting.get_by_role("button", name="Preview").click()
    expect(setting.locator(".mail-preview")).to_have_text(
        "Dear Jane Doe,\nthe lab is full this year. {Sorry}"
    )
    legal = page.locator("form.setting[data-key=renderer_legal_notice]")
    legal.locator("textarea").fill("<b>Imprint</b><script>alert(1)</script>")
    legal.get_by_role("button", name="Preview").click()
    expect(legal.locator("iframe.html-preview")).to_have_attribute(
        "srcdoc", re.compile(r"^<b>Imprint</b>$")
    )
    screenshots.take("settings-with-previews")
    setting.get_by_role("button", name="Save").click()
    expect(page.locator("#admin-alerts")).to_contain_text("template_reject was saved")

    page.goto(f"/admin?showreq={registration.uuid}")
    page.click(f"#request-{registration.uuid}-reject button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("was rejected")
    screenshots.take("registrations")
    [mail] = mailbox.received("applicant@example.org")
    assert mailbox.body(mail).strip() == "Dear Applicant Name,\nthe lab is full this year. {Sorry}"


def create_service(page: Page, name: str, user_label: str) -> Locator:
    """Create the service ``name`` on the services section and assign it one user; its card."""
    page.goto("/admin/services")
    page.fill("#service-create-name", name)
    page.click("#service-create button[type=submit]")
    card = page.locator(f"form.service[data-service='{name}']")
    expect(card).to_be_visible()
    expect(card.locator(".service-columns")).to_contain_text("no column yet")
    card.get_by_label("Assigned users").select_option(label=user_label)
    card.get_by_role("button", name="Save").click()
    expect(page.locator("#admin-alerts")).to_contain_text("with 1 assigned user")
    return card


def test_a_service_is_created_and_assigned_a_user(
    page, screenshots, site, live_server, committed_db
):
    log_in(page, site["admin"].email)
    create_service(page, "QC pipeline", "Sam Submitter <submitter@example.org> (Sequencing Lab)")
    screenshots.take("services")

    # The assigned user now sees the service through the API.
    key = make_api_key(committed_db, site["submitter"])
    committed_db.commit()
    services = requests.get(
        f"{live_server}/api/v1/services", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).json()
    assert [service["name"] for service in services] == ["QC pipeline"]


def test_a_service_user_reports_a_value_that_shows_on_the_view_page(
    page, browser, screenshots, site, live_server, live_app, committed_db
):
    runner = make_user(
        committed_db,
        group=site["lab"],
        email="runner@example.org",
        fullname="Rita Runner",
        site_read=True,
    )
    runner_key = make_api_key(committed_db, runner)
    submitter_key = make_api_key(committed_db, site["submitter"])
    committed_db.commit()

    # The admin creates the service, assigns Rita, and adds a column the service fills.
    log_in(page, site["admin"].email)
    card = create_service(page, "QC pipeline", "Rita Runner <runner@example.org> (Sequencing Lab)")
    page.goto("/admin/columns")
    page.click("#column-new")
    page.fill("#col-name", "QC")
    page.select_option("#col-service", label="Service QC pipeline")
    page.fill("#col-regexp", "^(pass|fail)$")
    page.fill("#col-regexdesc", "pass or fail")
    page.click("#column-save")
    expect(page.locator("#admin-alerts")).to_contain_text("The column QC was created")
    expect(page.locator("#columns-table tr[data-column=QC]")).to_contain_text("QC pipeline")
    page.goto("/admin/services")
    expect(card.locator(".service-columns")).to_contain_text("QC")
    screenshots.take("service-with-column")

    # Two records are submitted; the submitter's sheet knows nothing of the service column.
    staged = [stage(live_app, submitter_key, {"SampleId": f"S{n}"}).json for n in (1, 2)]
    live_app.post_json(
        "/api/v1/submissions",
        {"metadatasetIds": [mset["id"]["site"] for mset in staged], "fileIds": [], "label": "Run"},
        headers=api_headers(submitter_key),
    )

    # Rita sees both waiting for her service: the cells say "pending", the filter lists them.
    view = new_page(browser, live_server)
    shots = Screenshots(view, "service_user_on_view_page")
    log_in(view, runner.email)
    view.goto("/view")
    view.wait_for_selector("#view-app[data-loaded]")
    qc_cells = view.locator("#records tbody td[data-column=QC]")
    expect(qc_cells).to_have_text(["pending", "pending"])
    view.select_option("#awaiting-service", label="QC pipeline")
    expect(view.locator("#total")).to_have_text("2 records")
    expect(view.locator("#active-filters")).to_contain_text("Awaiting service: QC pipeline")
    shots.take("waiting-for-the-service")

    # Rita's pipeline reports S1 through the API.
    [service] = requests.get(
        f"{live_server}/api/v1/services",
        headers={"Authorization": f"Bearer {runner_key}"},
        timeout=10,
    ).json()
    service_id = service["id"]["site"]
    reported = requests.post(
        f"{live_server}/api/v1/service-execution/{service_id}/{staged[0]['id']['site']}",
        json={"record": {"QC": "pass"}, "fileIds": []},
        headers={"Authorization": f"Bearer {runner_key}"},
        timeout=10,
    )
    assert reported.status_code == 200, reported.text

    # Only S2 still waits; without the filter, S1 shows the value.
    view.reload()
    view.wait_for_selector("#view-app[data-loaded]")
    expect(view.locator("#total")).to_have_text("1 record")
    expect(view.locator("#records tbody td[data-column=SampleId]")).to_have_text(["S2"])
    view.click("#active-filters button[aria-label='Remove the Awaiting service filter']")
    view.wait_for_selector("#view-app[data-loaded]")
    row = view.locator(f"#records tbody tr[data-record={staged[0]['id']['site']}]")
    expect(row.locator("td[data-column=QC]")).to_have_text("pass")
    other = view.locator(f"#records tbody tr[data-record={staged[1]['id']['site']}]")
    expect(other.locator("td[data-column=QC]")).to_have_text("pending")
    shots.take("value-reported")
    view.context.close()
