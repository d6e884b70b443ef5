"""The mood trend page: the student's therapist sees the check-ins over sessions, in a table."""

from __future__ import annotations

from app.db_types import utcnow
from app.games import services


def test_therapist_can_view_the_mood_trend_of_a_student_on_their_caseload(game_room, world, login_as):
    room = game_room()
    now = utcnow()
    game = services.start_game(world.therapist, room, "mood_checkin", "student", now)
    services.apply_move(room, "student", game.version, "mood-view-1", {"phase": "start", "mood": 2}, now)
    again = services.start_game(world.therapist, room, "mood_checkin", "student", now)
    services.apply_move(room, "student", again.version, "mood-view-2", {"phase": "end", "mood": 4}, now)
    client = login_as(world.therapist)
    body = client.get(f"/students/{world.own_student.id}/mood").get_data(as_text=True)
    assert "2 – A little sad" in body and "4 – Happy" in body and "Up 2" in body
    assert "not active now" not in body


def test_therapist_sees_an_empty_trend_and_the_consent_notice(world, login_as):
    client = login_as(world.therapist)
    body = client.get(f"/students/{world.own_student.id}/mood").get_data(as_text=True)
    assert "No mood check-ins yet." in body and "not active now" in body


def test_guardian_cannot_view_the_mood_trend(world, login_as):
    assert login_as(world.guardian).get(f"/students/{world.own_student.id}/mood").status_code == 403


def test_other_therapist_cannot_view_the_mood_trend(world, login_as):
    assert login_as(world.other_therapist).get(f"/students/{world.own_student.id}/mood").status_code == 404
