from sqlalchemy import func, select

from app.auth.models import User
from app.districts.cli import DEMO_PASSWORD
from app.districts.models import CaseloadAssignment, GuardianLink, School, Student
from app.extensions import db
from tests.conftest import login


def _counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (School, User, Student, GuardianLink, CaseloadAssignment))


def test_seed_demo_is_idempotent_and_every_role_can_sign_in(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    counts = _counts()
    assert counts[0] == 2 and counts[2] == 30
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0
    assert _counts() == counts
    roles = {u.role for u in db.session.scalars(select(User))}
    assert roles == {"district_admin", "school_admin", "therapist", "guardian"}
    therapists = db.session.scalar(select(func.count()).where(User.role == "therapist"))
    assert therapists == 3
    emails = [line.split()[-1] for line in first.output.splitlines() if "@" in line and "outbox" not in line]
    for email in emails:
        client = app.test_client()
        assert login(client, email, DEMO_PASSWORD).status_code == 302, email
        assert client.get("/home").status_code == 200
