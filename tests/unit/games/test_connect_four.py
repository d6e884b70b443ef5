import copy
import json

import pytest

from app.games.rules import ConnectFour, IllegalMove

game = ConnectFour()
BOTTOM = 5


def play(columns, first="student"):
    """Alternate turns from `first`, dropping into `columns` in order; return (state, last events)."""
    state, events = game.initial_state(first, 0), []
    player = first
    for column in columns:
        state, events = game.apply(state, {"column": column}, player)
        player = "therapist" if player == "student" else "student"
    return state, events


def test_a_disc_falls_to_the_bottom_then_stacks():
    state, events = play([3])
    assert state["board"][BOTTOM][3] == "student"
    assert events[0] == {"type": "move", "player": "student", "column": 3, "row": BOTTOM}
    state, events = game.apply(state, {"column": 3}, "therapist")
    assert state["board"][BOTTOM - 1][3] == "therapist"
    assert events == [
        {"type": "move", "player": "therapist", "column": 3, "row": BOTTOM - 1},
        {"type": "turn", "player": "student"},
    ]


def test_only_the_player_whose_turn_it_is_has_moves():
    state = game.initial_state("therapist", 0)
    assert game.legal_moves(state, "therapist") == [{"column": c} for c in range(7)]
    assert game.legal_moves(state, "student") == []


def test_student_can_win_across():
    state, events = play([0, 0, 1, 1, 2, 2, 3])
    assert events[-1] == {"type": "win", "winner": "student", "line": [[5, 0], [5, 1], [5, 2], [5, 3]]}
    assert game.result(state) == {"winner": "student", "draw": False}
    assert state["turn"] is None


def test_student_can_win_up_and_down():
    state, events = play([4, 5, 4, 5, 4, 5, 4])
    assert events[-1]["line"] == [[2, 4], [3, 4], [4, 4], [5, 4]]
    assert game.result(state)["winner"] == "student"


def test_student_can_win_on_a_rising_diagonal():
    # Student on (5,0) (4,1) (3,2) (2,3); the therapist's discs prop them up.
    state, events = play([0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3])
    assert events[-1]["line"] == [[2, 3], [3, 2], [4, 1], [5, 0]]
    assert game.result(state)["winner"] == "student"


def test_student_can_win_on_a_falling_diagonal():
    # Mirror image: student on (5,6) (4,5) (3,4) (2,3).
    state, events = play([6, 5, 5, 4, 4, 3, 4, 3, 3, 0, 3])
    assert events[-1]["line"] == [[2, 3], [3, 4], [4, 5], [5, 6]]


def test_a_disc_filling_a_gap_wins_with_the_whole_run():
    state, events = play([0, 0, 1, 1, 3, 3, 4, 4, 2])
    assert events[-1]["line"] == [[5, c] for c in range(5)]


def test_therapist_can_win_as_second_player():
    state, _ = play([0, 1, 0, 1, 0, 1, 6, 1])
    assert game.result(state) == {"winner": "therapist", "draw": False}


def test_a_full_grid_without_four_is_a_draw():
    # Columns filled in pairs so colours alternate in threes: no four anywhere.
    order = [0, 1] * 3 + [1, 0] * 3 + [2, 3] * 3 + [3, 2] * 3 + [4, 5] * 3 + [5, 4] * 3 + [6] * 6
    state, events = play(order)
    assert events[-1] == {"type": "draw"}
    assert game.result(state) == {"winner": None, "draw": True}
    assert all(cell is not None for row in state["board"] for cell in row)


def test_student_cannot_drop_into_a_full_column():
    state, _ = play([2, 2, 2, 2, 2, 2])
    assert {"column": 2} not in game.legal_moves(state, "student")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"column": 2}, "student")
    assert caught.value.code == "column_full"


def test_therapist_cannot_play_out_of_turn():
    with pytest.raises(IllegalMove) as caught:
        game.apply(game.initial_state("student", 0), {"column": 0}, "therapist")
    assert caught.value.code == "not_your_turn"


def test_nobody_can_move_after_a_win():
    state, _ = play([0, 0, 1, 1, 2, 2, 3])
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"column": 6}, "therapist")
    assert caught.value.code == "game_over"


@pytest.mark.parametrize(
    "move",
    [
        None,
        [],
        "1",
        1.5,
        True,
        {"column": True},
        {"column": -1},
        {"column": 7},
        {"column": 10**9},
        {"column": "3"},
        {"column": 3.0},
        {"column": None},
        {"column": [3]},
        {"column": {"column": 3}},
        {"cell": 3},
        {"column": 3, "row": 5},
        {"column": "9" * 100_000},
    ],
)
def test_malformed_moves_are_refused(move):
    with pytest.raises(IllegalMove) as caught:
        game.validate_move(move)
    assert caught.value.code == "malformed"


def test_apply_never_mutates_its_input():
    state, _ = play([3, 3])
    before = copy.deepcopy(state)
    new, _ = game.apply(state, {"column": 3}, "student")
    assert state == before and new != state
    assert all(new_row is not old_row for new_row, old_row in zip(new["board"], state["board"], strict=True))


def test_state_survives_a_json_round_trip():
    state, _ = play([0, 1, 2, 3, 4, 5, 6, 0])
    assert json.loads(json.dumps(state)) == state
