import copy
import json

import pytest

from app.games.rules import IllegalMove, TicTacToe

game = TicTacToe()


def play(cells, first="student"):
    """Alternate turns from `first`, placing on `cells` in order; return (state, last events)."""
    state, events = game.initial_state(first, 0), []
    player = first
    for cell in cells:
        state, events = game.apply(state, {"cell": cell}, player)
        player = "therapist" if player == "student" else "student"
    return state, events


def test_first_player_plays_x_and_moves_first():
    state = game.initial_state("therapist", 0)
    assert state["marks"] == {"therapist": "X", "student": "O"}
    assert state["turn"] == "therapist"
    assert game.legal_moves(state, "therapist") == [{"cell": c} for c in range(9)]
    assert game.legal_moves(state, "student") == []


def test_student_can_place_a_mark_on_an_empty_square():
    state, events = play([4])
    assert state["board"][4] == "student"
    assert state["turn"] == "therapist"
    assert events == [
        {"type": "move", "player": "student", "cell": 4, "mark": "X"},
        {"type": "turn", "player": "therapist"},
    ]
    assert {"cell": 4} not in game.legal_moves(state, "therapist")


@pytest.mark.parametrize(
    "line, other_moves",
    [
        ([0, 1, 2], [3, 4]),
        ([3, 4, 5], [0, 1]),
        ([6, 7, 8], [0, 1]),
        ([0, 3, 6], [1, 2]),
        ([1, 4, 7], [0, 2]),
        ([2, 5, 8], [0, 1]),
        ([0, 4, 8], [1, 2]),
        ([2, 4, 6], [0, 1]),
    ],
)
def test_student_can_win_with_three_in_any_line(line, other_moves):
    cells = [line[0], other_moves[0], line[1], other_moves[1], line[2]]
    state, events = play(cells)
    assert events[-1] == {"type": "win", "winner": "student", "line": line}
    assert game.result(state) == {"winner": "student", "draw": False}
    assert state["line"] == line and state["turn"] is None
    assert game.legal_moves(state, "therapist") == [] and game.legal_moves(state, "student") == []


def test_second_player_can_win():
    state, events = play([0, 3, 1, 4, 8, 5])
    assert game.result(state) == {"winner": "therapist", "draw": False}
    assert events[-1]["line"] == [3, 4, 5]


def test_a_full_board_without_a_line_is_a_draw():
    # X O X / X O O / O X X
    state, events = play([0, 1, 2, 4, 3, 5, 7, 6, 8])
    assert events[-1] == {"type": "draw"}
    assert game.result(state) == {"winner": None, "draw": True}
    assert state["turn"] is None


def test_a_win_on_the_last_square_is_a_win_not_a_draw():
    # X O X / O X O / O X X -> X completes the diagonal on the ninth move
    state, _ = play([0, 1, 2, 3, 4, 5, 7, 6, 8])
    assert game.result(state) == {"winner": "student", "draw": False}


def test_therapist_cannot_play_out_of_turn():
    state = game.initial_state("student", 0)
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"cell": 0}, "therapist")
    assert caught.value.code == "not_your_turn"
    assert caught.value.message == "It's the other player's turn."


def test_therapist_cannot_take_an_occupied_square():
    state, _ = play([4])
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"cell": 4}, "therapist")
    assert caught.value.code == "cell_taken"
    assert caught.value.message == "That square is already taken — pick another one!"


def test_nobody_can_move_after_the_game_is_over():
    state, _ = play([0, 3, 1, 4, 2])
    for player in ("student", "therapist"):
        with pytest.raises(IllegalMove) as caught:
            game.apply(state, {"cell": 8}, player)
        assert caught.value.code == "game_over"


@pytest.mark.parametrize(
    "move",
    [
        None,
        [],
        "1",
        1.5,
        True,
        4,
        {"cell": True},
        {"cell": False},
        {"cell": -1},
        {"cell": 9},
        {"cell": 10**9},
        {"cell": "4"},
        {"cell": 4.0},
        {"cell": None},
        {"cell": [4]},
        {"cell": {"cell": 4}},
        {"square": 4},
        {"cell": 4, "extra": 1},
        {"cell": "x" * 100_000},
        {"c" * 100_000: 4},
    ],
)
def test_malformed_moves_are_refused(move):
    with pytest.raises(IllegalMove) as caught:
        game.validate_move(move)
    assert caught.value.code == "malformed"


def test_validate_move_returns_a_clean_copy():
    move = {"cell": 3}
    clean = game.validate_move(move)
    assert clean == {"cell": 3} and clean is not move


def test_apply_never_mutates_its_input():
    state, _ = play([0, 4])
    before = copy.deepcopy(state)
    new, _ = game.apply(state, {"cell": 8}, "student")
    assert state == before
    assert new["board"] is not state["board"]
    with pytest.raises(IllegalMove):
        game.apply(state, {"cell": 0}, "student")
    assert state == before


def test_state_survives_a_json_round_trip():
    state, _ = play([0, 4, 8, 2, 6, 3])
    assert json.loads(json.dumps(state)) == state
    assert (
        game.apply(json.loads(json.dumps(state)), {"cell": 7}, "student")[0]
        == game.apply(state, {"cell": 7}, "student")[0]
    )


def test_both_players_see_the_whole_board():
    state, _ = play([0, 4])
    assert game.view(state, "therapist") == state == game.view(state, "student")
