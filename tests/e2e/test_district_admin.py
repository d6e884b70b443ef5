"""District administration in a real browser, on the demo district: the district admin imports the
sample roster (first a copy with a bad row, whose line, column and reason the preview shows, then
the corrected file), assigns a caseload in bulk, deactivates a therapist, and reads a dashboard and
downloads its CSV. The steps run in one test, in order, as a person would do them."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.e2e.helpers import DISTRICT_ADMIN, assert_accessible
from tests.support.servers import ROOT

SAMPLE = ROOT / "docs" / "samples" / "roster.csv"


def _upload(page, base_url, path) -> None:
    page.goto(base_url + "/roster")
    page.get_by_label("Roster file (CSV, UTF-8, up to 12 MB)").set_input_files(str(path))
    page.get_by_role("button", name="Check the file").click()


def test_district_admin_imports_assigns_deactivates_and_reads_the_dashboard(page, base_url, sign_in_as, tmp_path):
    sign_in_as(DISTRICT_ADMIN)

    # 1. A copy of the sample with a bad birth date on line 4: the preview names line, column and reason.
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    assert lines[3].startswith("stu-1003,")
    lines[3] = lines[3].replace("2020-01-22", "2020-31-01")
    bad = tmp_path / "roster-with-a-bad-row.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _upload(page, base_url, bad)
    problems = page.get_by_role("table", name="Problems by line")
    expect(problems).to_be_visible()
    row = problems.get_by_role("row").filter(has=page.get_by_role("cell", name="4", exact=True))
    expect(row).to_contain_text("birthDate")
    expect(page.get_by_role("button", name="Import now")).to_have_count(0)
    assert_accessible(page)

    # 2. The corrected file (the sample itself): preview, then import.
    _upload(page, base_url, SAMPLE)
    expect(page.get_by_role("heading", name="problem")).to_have_count(0)
    page.get_by_role("button", name="Import now").click()
    expect(page.get_by_text("Imported: 6 students created")).to_be_visible()

    # 3. Bulk caseload: two new elementary students to Priya Raman.
    page.get_by_role("link", name="Caseloads").click()
    page.get_by_label("Select Emi Vargas").check()
    page.get_by_label("Select Aiyana Redcloud").check()
    page.get_by_label("Assign the selected students to").select_option(label="Priya Raman (Riverbend Elementary School)")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_text("2 student(s) now with Priya Raman")).to_be_visible()
    assert_accessible(page)

    # 4. Deactivate a therapist.
    page.get_by_role("link", name="Staff").click()
    page.get_by_role("button", name="Deactivate Jordan Ellis").click()
    expect(page.get_by_text("Jordan Ellis is deactivated and signed out everywhere.")).to_be_visible()
    expect(page.get_by_role("button", name="Reactivate Jordan Ellis")).to_be_visible()

    # 5. The district dashboard: charts drawn, tables beside them, a CSV to download.
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("dashboard")
    # The demo's sessions are all ahead (booked from tomorrow): look from the school year's start to 60 days on.
    page.get_by_label("To", exact=True).fill((date.today() + timedelta(days=60)).isoformat())
    page.get_by_role("button", name="Show", exact=True).click()
    sessions = page.get_by_role("table", name="Sessions", exact=True)
    expect(sessions).to_contain_text("Riverbend Elementary School")
    expect(page.locator("#chart-sessions")).to_have_attribute("height", re.compile(r"\d+"))  # Chart.js sized the canvas
    assert page.evaluate("() => window.Chart !== undefined && Object.keys(window.Chart.instances).length") == 4
    assert_accessible(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download “Sessions” (CSV)").click()
    rows = list(csv.reader(io.StringIO(download_info.value.path().read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["School", "Scheduled", "Delivered"]
    assert rows[-1][0] == "Total"
    assert any(r[0] == "Riverbend Elementary School" for r in rows)
