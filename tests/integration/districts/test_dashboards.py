"""Dashboards: exact numbers on a hand-built district, CSV exports parsed back, formula injection neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.csv_export import csv_text, safe_cell
from app.extensions import db
from app.scheduling.models import Appointment

START, END = date(2026, 9, 1), date(2026, 10, 31)
RANGE = "start=2026-09-01&end=2026-10-31"


def _session(therapist, student, day: date, minutes: int, *, status="completed", attendance=None, delivered=None):
    begins = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=17)
    row = Appointment(district_id=student.district_id, school_id=student.school_id, therapist_id=therapist.id,
                      student_id=student.id, starts_at=begins, ends_at=begins + timedelta(minutes=minutes),
                      local_date=day, modality="telehealth", status=status, attendance=attendance,
                      minutes_delivered=delivered, created_by_id=therapist.id)
    db.session.add(row)
    return row


def _fixture(world, make_user, make_student, link_guardian, grant_consent):
    """School A: 4 sessions in range (1 attended 25/30 min, 1 no-show, 1 cancelled 45 min, 1 still scheduled)
    and one before the range; school B: 1 attended 60/60. Consent: A active, pending, missing; B expiring."""
    w = world
    _session(w.therapist, w.own_student, date(2026, 9, 8), 30, attendance="attended", delivered=25)
    _session(w.therapist, w.own_student, date(2026, 9, 15), 30, attendance="no_show", delivered=0)
    _session(w.therapist, w.own_student, date(2026, 9, 22), 45, status="cancelled", attendance="cancelled_student",
             delivered=0)
    _session(w.therapist, w.own_student, date(2026, 10, 31), 30, status="scheduled")
    _session(w.therapist, w.own_student, date(2026, 8, 31), 30, attendance="attended", delivered=30)  # out of range
    _session(w.other_therapist, w.school_b_student, date(2026, 10, 1), 60, attendance="attended", delivered=60)
    _session(w.foreign_therapist, w.foreign_student, date(2026, 10, 1), 60, attendance="attended", delivered=60)
    db.session.commit()
    make_student(w.school_a, first_name="Nobody", last_name="Yet")  # consent missing, no therapist
    for student in (w.other_student, w.school_b_student):
        link_guardian(make_user("guardian", w.district), student)
    grant_consent(w.own_student, w.district_admin)
    from app.consent.services import request_consent

    request_consent(w.district_admin, w.other_student, scopes=["video_sessions"])
    grant_consent(w.school_b_student, w.district_admin, expires_on=date.today() + timedelta(days=10))


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_district_admin_sees_exact_district_numbers(login_as, world, make_user, make_student, link_guardian,
                                                    grant_consent):
    _fixture(world, make_user, make_student, link_guardian, grant_consent)
    client = login_as(world.district_admin)
    page = client.get(f"/dashboard?{RANGE}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="dashboard-data"' in html and "chart.umd.min.js" in html and "Beta" not in html

    sessions = _rows(client.get(f"/dashboard/sessions.csv?{RANGE}"))
    assert sessions[0] == ["School", "Scheduled", "Delivered", "No-shows", "Cancelled", "Minutes planned",
                           "Minutes delivered"]
    assert sessions[1:] == [
        ["Alpha Elementary", "4", "1", "1", "1", "90", "25"],
        ["Alpha Middle", "1", "1", "0", "0", "60", "60"],
        ["Total", "5", "2", "1", "1", "150", "85"],
    ]
    minutes = _rows(client.get(f"/dashboard/minutes.csv?{RANGE}"))
    assert minutes[1] == ["Alpha Elementary", "90", "25", "28"]
    assert minutes[-1] == ["Total", "150", "85", "57"]
    consent = _rows(client.get(f"/dashboard/consent.csv?{RANGE}"))
    assert consent[0] == ["School", "Active students", "Consent active", "Expiring within 30 days", "Pending", "Missing"]
    assert consent[1:] == [
        ["Alpha Elementary", "3", "1", "0", "1", "1"],
        ["Alpha Middle", "1", "1", "1", "0", "0"],
        ["Total", "4", "2", "1", "1", "1"],
    ]
    caseloads = _rows(client.get(f"/dashboard/caseloads.csv?{RANGE}"))
    assert caseloads[1:] == [["Alpha Elementary", "1", "1", "2", "1.0"], ["Alpha Middle", "1", "1", "0", "1.0"],
                             ["Total", "2", "2", "2", "1.0"]]
    exported = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "dashboard.exported")).all()
    assert sorted(e.details["table"] for e in exported) == ["caseloads", "consent", "minutes", "sessions"]


def test_school_admin_sees_their_school_by_therapist_and_grade(login_as, world, make_user, make_student,
                                                               link_guardian, grant_consent):
    _fixture(world, make_user, make_student, link_guardian, grant_consent)
    client = login_as(world.school_admin)
    assert client.get("/dashboard").headers["Location"].endswith(f"/dashboard/schools/{world.school_a.id}")
    sessions = _rows(client.get(f"/dashboard/schools/{world.school_a.id}/sessions.csv?{RANGE}"))
    assert sessions[1] == [world.therapist.name, "4", "1", "1", "1", "90", "25"]
    consent = _rows(client.get(f"/dashboard/schools/{world.school_a.id}/consent.csv?{RANGE}"))
    assert consent[1:] == [["Grade 4", "3", "1", "0", "1", "1"], ["Total", "3", "1", "0", "1", "1"]]
    caseloads = _rows(client.get(f"/dashboard/schools/{world.school_a.id}/caseloads.csv"))
    assert caseloads[1] == [world.therapist.name, "1"]
    assert client.get(f"/dashboard/schools/{world.school_b.id}").status_code == 404
    assert client.get(f"/dashboard/schools/{world.school_a.id}/nonsense.csv").status_code == 404


def test_district_admin_sees_the_school_year_to_date_by_default(login_as, world):
    client = login_as(world.district_admin)
    html = client.get("/dashboard").get_data(as_text=True)
    assert f'value="{date.today().isoformat()}"' in html
    assert "-08-01" in html


def test_therapist_and_guardian_cannot_see_dashboards(app, world):
    from tests.conftest import login

    for person in (world.therapist, world.guardian):
        client = app.test_client()
        login(client, person)
        assert client.get("/dashboard").status_code == 403
        assert client.get(f"/dashboard/schools/{world.school_a.id}").status_code == 403
        assert client.get("/dashboard/sessions.csv").status_code == 403


def test_district_admin_gets_formula_cells_neutralised_in_dashboard_csv(login_as, world):
    world.school_a.name = "=HYPERLINK(\"http://evil.example\")"
    db.session.commit()
    client = login_as(world.district_admin)
    rows = _rows(client.get("/dashboard/consent.csv"))
    names = [r[0] for r in rows]
    assert "'=HYPERLINK(\"http://evil.example\")" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for r in rows for n in r)


def test_district_admin_gets_formula_cells_neutralised_in_audit_csv(login_as, world):
    from app.audit.services import record

    record("test.event", actor=world.district_admin, ip="-2+3", target_label="@SUM(A1)")
    db.session.commit()
    client = login_as(world.district_admin)
    rows = _rows(client.get("/audit/export.csv?action=test."))
    assert rows[1][3] == "test.event" and rows[1][7] == "'-2+3"
    assert all(not c.startswith(("=", "+", "-", "@")) for r in rows for c in r)


def test_safe_cell_leaves_numbers_and_plain_text_alone():
    assert safe_cell(-5) == -5 and safe_cell("Ava") == "Ava" and safe_cell(None) == ""
    for dangerous in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
    parsed = list(csv.reader(io.StringIO(csv_text(["a", "b"], [["=x", 'quote "q", comma']]))))
    assert parsed == [["a", "b"], ["'=x", 'quote "q", comma']]


def test_anonymous_can_fetch_the_chart_library_served_from_node_modules(client):
    response = client.get("/vendor/chart.umd.min.js")
    assert response.status_code == 200 and b"Chart" in response.data[:5000]
    response.close()
    assert client.get("/vendor/chart.js/package.json").status_code == 404  # only listed files are served


def _consent_rows(html: str) -> list[str]:
    """The school names in the consent table of a dashboard page, in order."""
    import re

    table = html.split('id="consent-h"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', body)


def test_district_admin_pages_through_schools_with_totals_and_csv_over_all_of_them(login_as, world, make_school,
                                                                                   make_student):
    import re

    schools = [make_school(world.district, name=f"School {i:02d}") for i in range(28)]
    for school in schools:
        make_student(school)
    client = login_as(world.district_admin)
    first = client.get("/dashboard").get_data(as_text=True)
    everyone = sorted(["Alpha Elementary", "Alpha Middle", *(s.name for s in schools)])  # 30 schools
    assert _consent_rows(first) == everyone[:25]
    assert "Schools 1–25 of 30" in first and "Total, all schools" in first
    total = first.split('id="consent-h"', 1)[1].split("<tfoot>", 1)[1].split("</tfoot>", 1)[0]
    assert re.findall(r'<td class="num">(\d+)</td>', total)[0] == "31"  # 28 + the world's 3 active students
    nav = first.split('aria-label="School pages (top)"', 1)[1].split("</nav>", 1)[0]
    assert "schools_page=2" in nav and 'rel="prev"' not in nav
    second = client.get("/dashboard?schools_page=2").get_data(as_text=True)
    assert _consent_rows(second) == everyone[25:]
    assert client.get("/dashboard?schools_page=99").get_data(as_text=True).count("School 27") >= 1  # the last page
    links = set(re.findall(r'href="/dashboard/schools/(\d+)\?', first + second))
    assert links == {str(s.id) for s in [world.school_a, world.school_b, *schools]}
    assert str(world.foreign_school.id) not in links
    csv_names = [r[0] for r in _rows(client.get("/dashboard/consent.csv"))[1:-1]]
    assert csv_names == everyone
    import json
    from html import unescape

    charts = json.loads(unescape(first.split('id="dashboard-data"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]))
    assert next(c for c in charts if c["id"] == "consent")["labels"] == everyone[:25]  # the page's schools


def test_a_small_district_has_one_page_and_no_pager(login_as, world):
    html = login_as(world.district_admin).get("/dashboard").get_data(as_text=True)
    assert "School pages" not in html and "2 schools." in html and ">Total<" in html
    assert f'href="/dashboard/schools/{world.school_a.id}?' in html
