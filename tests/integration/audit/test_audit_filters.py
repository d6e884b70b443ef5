"""The audit viewer filters by actor, student, action and dates, on the page and in the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from app.audit.services import record
from app.extensions import db


def _ids(client, query: str) -> set[str]:
    response = client.get(f"/audit/export.csv?{query}")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    return {r["action"] for r in rows if r["action"].startswith("f.")}


def test_district_admin_can_filter_the_audit_export_by_actor_student_action_and_dates(login_as, world):
    record("f.one", actor=world.therapist, student_id=world.own_student.id, now=datetime(2026, 3, 1, 12, tzinfo=UTC))
    record("f.two", actor=world.school_admin, student_id=world.other_student.id,
           now=datetime(2026, 3, 5, 12, tzinfo=UTC))
    record("f.three.x", actor=world.therapist, now=datetime(2026, 4, 1, 12, tzinfo=UTC))
    record("f.foreign", actor=world.foreign_admin, now=datetime(2026, 3, 1, 12, tzinfo=UTC))
    db.session.commit()
    client = login_as(world.district_admin)
    assert _ids(client, "") == {"f.one", "f.two", "f.three.x"}
    assert _ids(client, f"actor={world.therapist.id}") == {"f.one", "f.three.x"}
    assert _ids(client, f"student={world.other_student.id}") == {"f.two"}
    assert _ids(client, "action=f.three") == {"f.three.x"}
    assert _ids(client, "start=2026-03-02&end=2026-03-31") == {"f.two"}
    assert _ids(client, "end=2026-03-01") == {"f.one"}
    page = client.get(f"/audit/?actor={world.therapist.id}&action=f.").get_data(as_text=True)
    assert "f.one" in page and "f.two" not in page and "f.foreign" not in page
