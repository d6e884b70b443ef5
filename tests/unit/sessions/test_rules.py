"""Pure live-session rules: the room window, room roles, join codes."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from app import permissions
from app.sessions.services import CODE_ALPHABET, CODE_LENGTH, normalise_code

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)


def _room(**kw):
    base = {"id": 7, "district_id": 1, "therapist_id": 10, "student_id": 20, "status": "open",
            "student": SimpleNamespace(id=20, active=True),
            "opens_at": NOW - timedelta(minutes=10), "closes_at": NOW + timedelta(minutes=30)}
    return SimpleNamespace(**{**base, **kw})


def _therapist(**kw):
    return SimpleNamespace(**{"id": 10, "district_id": 1, "role": "therapist", "active": True,
                              "is_authenticated": True, **kw})


def _grant(**kw):
    return SimpleNamespace(**{"id": 3, "district_id": 1, "room_id": 7, "student_id": 20, "role": "student_grant",
                              "active": True, "is_authenticated": False, "admitted_at": NOW, **kw})


def test_room_is_open_only_inside_its_window_and_until_ended():
    room = _room()
    assert permissions.room_is_open(room, NOW)
    assert permissions.room_is_open(room, room.opens_at)
    assert not permissions.room_is_open(room, room.opens_at - timedelta(seconds=1))
    assert not permissions.room_is_open(room, room.closes_at)
    assert not permissions.room_is_open(_room(status="ended"), NOW)


def test_room_roles(monkeypatch):
    caseload = {True}
    monkeypatch.setattr(permissions, "is_on_caseload", lambda therapist, student, now=None: True in caseload)
    room = _room()
    assert permissions.room_role(_therapist(), room, NOW) == "therapist"
    caseload.clear()  # taken off the student's caseload: the room goes with the record
    assert permissions.room_role(_therapist(), room, NOW) is None
    caseload.add(True)
    assert permissions.room_role(_therapist(), _room(student=SimpleNamespace(id=20, active=False)), NOW) is None
    assert permissions.room_role(_therapist(id=11), room, NOW) is None
    assert permissions.room_role(_therapist(district_id=2), room, NOW) is None
    assert permissions.room_role(_therapist(active=False), room, NOW) is None
    assert permissions.room_role(_therapist(role="district_admin"), room, NOW) is None
    assert permissions.room_role(_grant(), room, NOW) == "student"
    assert permissions.room_role(_grant(admitted_at=None), room, NOW) is None  # still waiting
    assert permissions.room_role(_grant(active=False), room, NOW) is None
    assert permissions.room_role(_grant(room_id=8), room, NOW) is None
    assert permissions.room_role(_grant(is_authenticated=True), room, NOW) is None
    assert permissions.room_role(None, room, NOW) is None


def test_student_grant_is_no_staff_and_passes_no_staff_rule():
    grant = _grant()
    assert permissions.is_student_grant(grant)
    assert not permissions.is_signed_in(grant) and not permissions.is_staff(grant)
    assert not permissions.is_therapist(grant)


def test_codes_are_read_the_way_children_type_them():
    assert not set("0O1IL") & set(CODE_ALPHABET) and CODE_LENGTH == 6
    assert normalise_code(" ab3-x7k ") == "AB3X7K"
    assert normalise_code("") == ""
