import copy
import json

import pytest

from app.games.rules import IllegalMove, MoodCheckin

game = MoodCheckin()


def test_there_are_five_faces_from_very_sad_to_very_happy():
    assert [(f["value"], f["key"]) for f in game.faces] == [
        (1, "very_sad"),
        (2, "sad"),
        (3, "okay"),
        (4, "happy"),
        (5, "very_happy"),
    ]
    assert all(face["label"] and face["emoji"] for face in game.faces)


def test_student_can_check_in_at_the_start_then_the_end():
    state = game.initial_state("therapist", 0)
    assert game.legal_moves(state, "student") == [{"phase": "start", "mood": v} for v in range(1, 6)]
    state, events = game.apply(state, {"phase": "start", "mood": 2}, "student")
    assert events == [
        {"type": "mood", "player": "student", "phase": "start", "mood": 2, "key": "sad", "label": "A little sad"}
    ]
    assert game.moods(state) == {"start": 2, "end": None}
    assert game.legal_moves(state, "student") == [{"phase": "end", "mood": v} for v in range(1, 6)]
    state, events = game.apply(state, {"phase": "end", "mood": 4}, "student")
    assert events[-1] == {"type": "complete", "start": 2, "end": 4}
    assert game.moods(state) == {"start": 2, "end": 4}
    assert game.is_over(state) and game.legal_moves(state, "student") == []


def test_the_result_is_never_a_competition():
    state = game.initial_state("student", 0)
    for phase in ("start", "end"):
        state, _ = game.apply(state, {"phase": phase, "mood": 5}, "student")
        assert game.result(state) is None


@pytest.mark.parametrize("phase", ["start", "end"])
def test_therapist_cannot_pick_a_mood(phase):
    state = game.initial_state("therapist", 0)
    if phase == "end":
        state, _ = game.apply(state, {"phase": "start", "mood": 3}, "student")
    assert game.legal_moves(state, "therapist") == []
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"phase": phase, "mood": 3}, "therapist")
    assert caught.value.code == "not_allowed"


def test_student_cannot_check_in_at_the_end_before_the_start():
    with pytest.raises(IllegalMove) as caught:
        game.apply(game.initial_state("student", 0), {"phase": "end", "mood": 3}, "student")
    assert caught.value.code == "not_yet"


def test_student_cannot_pick_the_start_twice():
    state, _ = game.apply(game.initial_state("student", 0), {"phase": "start", "mood": 3}, "student")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"phase": "start", "mood": 4}, "student")
    assert caught.value.code == "already_chosen"


@pytest.mark.parametrize("phase", ["start", "end"])
def test_nothing_more_once_both_are_picked(phase):
    state = game.initial_state("student", 0)
    state, _ = game.apply(state, {"phase": "start", "mood": 3}, "student")
    state, _ = game.apply(state, {"phase": "end", "mood": 3}, "student")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"phase": phase, "mood": 1}, "student")
    assert caught.value.code == "game_over"


@pytest.mark.parametrize(
    "move",
    [
        None,
        [],
        "start",
        3,
        True,
        {},
        {"phase": "start"},
        {"mood": 3},
        {"phase": "start", "mood": 0},
        {"phase": "start", "mood": 6},
        {"phase": "start", "mood": True},
        {"phase": "start", "mood": 3.0},
        {"phase": "start", "mood": "3"},
        {"phase": "middle", "mood": 3},
        {"phase": ["start"], "mood": 3},
        {"phase": "start", "mood": 3, "note": "hi"},
        {"phase": "start", "mood": 10**9},
    ],
)
def test_malformed_moves_are_refused(move):
    with pytest.raises(IllegalMove) as caught:
        game.validate_move(move)
    assert caught.value.code == "malformed"


def test_apply_never_mutates_its_input_and_state_is_json():
    state = game.initial_state("student", 0)
    before = copy.deepcopy(state)
    new, _ = game.apply(state, {"phase": "start", "mood": 1}, "student")
    assert state == before and new["start"] == 1
    assert json.loads(json.dumps(new)) == new
    assert game.view(new, "therapist") == new
