"""Interrupted writes leave nothing half-saved.

* A large roster import fails in the middle (the audit step raises after every student and
  guardian row is inserted), over HTTP: a 500 page that says nothing was saved, and nothing was.
* A large roster import is killed (SIGKILL) in the middle, in another process, while its
  transaction holds thousands of inserted rows: nothing of it is in the database afterwards,
  and the same upload then imports in full.
* A guardian's consent signature fails after the signature row is added but before the commit
  (the audit step raises): no signature, the invitation still unanswered, the request's state and
  grants unchanged, over HTTP and for a caller of the service that carries on with its session.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.consent import services as consent_services
from app.consent.models import ConsentGrant, ConsentInvitation, ConsentRequest, ConsentSignature
from app.db_types import utcnow
from app.districts import roster
from app.districts.models import GuardianLink, RosterImport, Student
from app.extensions import db
from tests.conftest import csrf_from, get_csrf, login
from tests.support.servers import ROOT

STUDENTS = 2_000  # + 2,000 guardians + 2,000 links


def _big_roster(n: int) -> str:
    lines = ["sourcedId,role,givenName,familyName,email,grades,orgSourcedIds,birthDate,agentSourcedIds,"
             "metadata.hr.legalAuthority,metadata.hr.restricted"]
    lines += [f"s{i},student,Kid{i},Fam{i},,{1 + i % 12},faults-es,2014-05-0{1 + i % 9},g{i},," for i in range(n)]
    lines += [f"g{i},parent,Par{i},Fam{i},parent{i}@family.example,,,,s{i},true,false" for i in range(n)]
    return "\n".join(lines) + "\n"


def _counts() -> tuple[int, int, int]:
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(Student)),
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(GuardianLink)))


@pytest.fixture
def roster_world(world):
    world.school_a.source_id = "faults-es"
    db.session.commit()
    return world


def _preview_over_http(client, text: str) -> tuple[int, str]:
    token = get_csrf(client, "/roster")
    response = client.post("/roster", data={"csrf_token": token, "file": (io.BytesIO(text.encode()), "big.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-500:]
    preview = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Import now" in preview
    upload_id = db.session.scalar(select(RosterImport.id).order_by(RosterImport.id.desc()))
    return upload_id, csrf_from(preview)


@pytest.mark.slow
def test_a_large_roster_import_failing_midway_saves_nothing(app, client, roster_world, monkeypatch):
    login(client, roster_world.district_admin)
    upload_id, token = _preview_over_http(client, _big_roster(STUDENTS))
    before = _counts()
    inserted = []
    real_record = roster.record

    def audit_store_down(action, **kwargs):
        # Every student, guardian and link row is in the transaction when the audit step runs.
        inserted.append(db.session.scalar(select(func.count()).select_from(Student)))
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(roster, "record", audit_store_down)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does: the 500 page
    response = client.post(f"/roster/{upload_id}/apply", data={"csrf_token": token})
    assert response.status_code == 500
    assert "Nothing you entered was saved" in response.get_data(as_text=True)
    assert inserted == [before[0] + STUDENTS]  # the failure came after the inserts, inside the transaction
    assert _counts() == before
    assert db.session.get(RosterImport, upload_id).status == "previewed"

    monkeypatch.setattr(roster, "record", real_record)
    response = client.post(f"/roster/{upload_id}/apply", data={"csrf_token": token})
    assert response.status_code == 302
    assert _counts() == (before[0] + STUDENTS, before[1] + STUDENTS, before[2] + STUDENTS)


@pytest.mark.slow
def test_a_large_roster_import_killed_midway_saves_nothing(roster_world, database_url, tmp_path):
    text = _big_roster(STUDENTS)
    plan = roster.plan(roster_world.district.id, text)
    assert plan.ok, plan.problems[:3]
    upload = roster.store_upload(roster_world.district_admin, "big.csv", text, plan)
    upload_id, admin_id = upload.id, roster_world.district_admin.id
    before = _counts()
    db.session.remove()
    db.engine.dispose()  # SQLite: no connection of ours holds the file while the worker writes

    env = {**os.environ, "DATABASE_URL": database_url, "OUTBOX_DIR": str(tmp_path / "worker-outbox")}
    worker = subprocess.Popen([sys.executable, "-m", "tests.integration.faults.roster_worker", str(upload_id),
                               str(admin_id)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        line = worker.stdout.readline()  # the worker says so when it is in the middle of the import
        assert line.startswith("paused"), f"{line}\n{worker.stderr.read() if worker.poll() is not None else ''}"
        in_transaction = int(line.split()[1])
        assert in_transaction >= STUDENTS  # the students are inserted (uncommitted) when it is killed
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        worker.stdout.close()
        worker.stderr.close()

    assert _counts() == before
    upload = db.session.get(RosterImport, upload_id)
    assert upload.status == "previewed"
    roster.apply(db.session.get(User, admin_id), upload)  # nothing was left locked or half-done
    assert _counts() == (before[0] + STUDENTS, before[1] + STUDENTS, before[2] + STUDENTS)


# --- consent ------------------------------------------------------------------------------------


@pytest.fixture
def open_request(world, consent_form):
    consent_form(world.district_admin)
    return consent_services.request_consent(world.therapist, world.own_student,
                                            scopes=["video_sessions", "games"]).request


def _consent_state(request_id: int, guardian_id: int) -> dict:
    db.session.expire_all()
    return {
        "status": db.session.get(ConsentRequest, request_id).status,
        "signatures": db.session.scalar(select(func.count()).select_from(ConsentSignature)
                                        .where(ConsentSignature.request_id == request_id)),
        "grants": db.session.scalar(select(func.count()).select_from(ConsentGrant)
                                    .where(ConsentGrant.request_id == request_id)),
        "responded": db.session.scalar(select(ConsentInvitation.responded_at).where(
            ConsentInvitation.request_id == request_id, ConsentInvitation.guardian_id == guardian_id)),
    }


def _failing_audit(monkeypatch, seen: list):
    real_record = consent_services.record

    def record(action, **kwargs):
        if action == "consent.signed":
            # The signature row and the grants are in the transaction now (the query flushes them).
            seen.append((db.session.scalar(select(func.count()).select_from(ConsentSignature)),
                         db.session.scalar(select(func.count()).select_from(ConsentGrant))))
            raise RuntimeError("audit store unavailable")
        return real_record(action, **kwargs)

    monkeypatch.setattr(consent_services, "record", record)


def test_a_consent_signature_failing_before_commit_saves_nothing_over_http(app, client, world, open_request,
                                                                          monkeypatch):
    before = _consent_state(open_request.id, world.guardian.id)
    assert before == {"status": "requested", "signatures": 0, "grants": 0, "responded": None}
    login(client, world.guardian)
    sign_url = f"/consent/requests/{open_request.id}/sign"
    form = {"csrf_token": csrf_from(client.get(sign_url).get_data(as_text=True)), "decision": "signed",
            "typed_name": "Guardian Full Name", "confirm": "y",
            "scope_video_sessions": "allow", "scope_games": "allow"}
    seen: list = []
    _failing_audit(monkeypatch, seen)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post(sign_url, data=form)
    assert response.status_code == 500
    assert "Nothing you entered was saved" in response.get_data(as_text=True)
    assert seen == [(1, 2)]
    assert _consent_state(open_request.id, world.guardian.id) == before
    assert not consent_services.consent_is_active(world.own_student, "video_sessions", utcnow())

    monkeypatch.undo()  # the guardian tries again once the fault is gone
    response = client.post(sign_url, data=form)
    assert response.status_code == 302
    after = _consent_state(open_request.id, world.guardian.id)
    assert (after["status"], after["signatures"], after["grants"]) == ("active", 1, 2)


def test_a_consent_signature_failing_before_commit_leaves_nothing_for_a_later_commit(world, open_request,
                                                                                     monkeypatch):
    """A caller that goes on with the same session (a batch job, a view that handles the error and
    commits something else) must not commit the half-made signature."""
    before = _consent_state(open_request.id, world.guardian.id)
    seen: list = []
    _failing_audit(monkeypatch, seen)
    with pytest.raises(RuntimeError, match="audit store unavailable"):
        consent_services.decide(open_request, world.guardian, decision="signed",
                                choices={"video_sessions": True, "games": True}, typed_name="Guardian Full Name",
                                confirmed_legal_guardian=True, language="en")
    assert seen == [(1, 2)]
    db.session.commit()  # the caller carries on
    assert _consent_state(open_request.id, world.guardian.id) == before
