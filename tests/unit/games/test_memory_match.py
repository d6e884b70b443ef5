import copy
import json
from collections import Counter

import pytest

from app.games.rules import IllegalMove, MemoryMatch
from app.games.rules.memory_match import PICTURES

game = MemoryMatch()


def pairs(state):
    """The card positions of each picture, as [[a, b], ...] in table order."""
    positions = {}
    for index, picture in enumerate(state["cards"]):
        positions.setdefault(picture, []).append(index)
    return sorted(positions.values())


def a_miss(state):
    """Two cards that do not match."""
    (a, _), (b, _) = pairs(state)[:2]
    return a, b


def flip(state, player, *cards):
    events = []
    for card in cards:
        state, events = game.apply(state, {"card": card}, player)
    return state, events


def test_the_table_has_eight_pairs_of_known_pictures_shuffled_by_seed():
    state = game.initial_state("student", 1)
    counts = Counter(state["cards"])
    assert len(state["cards"]) == 16 and len(counts) == 8
    assert set(counts.values()) == {2} and set(counts) <= set(PICTURES)
    assert all(key.isascii() and PICTURES[key]["emoji"] and PICTURES[key]["label"] for key in counts)
    assert game.initial_state("therapist", 1)["cards"] == state["cards"]
    assert len({tuple(game.initial_state("student", seed)["cards"]) for seed in range(20)}) > 1


def test_a_match_stays_face_up_scores_and_the_same_player_goes_again():
    state = game.initial_state("student", 5)
    a, b = pairs(state)[0]
    state, events = flip(state, "student", a, b)
    picture = state["cards"][a]
    assert events == [
        {"type": "flip", "player": "student", "card": b, "picture": picture},
        {"type": "match", "player": "student", "cards": [a, b], "picture": picture},
        {"type": "turn", "player": "student"},
    ]
    assert state["owner"][a] == state["owner"][b] == "student"
    assert state["scores"] == {"student": 1, "therapist": 0}
    assert state["revealed"] == [] and state["turn"] == "student"


def test_a_miss_passes_the_turn_and_leaves_both_cards_showing_until_the_next_flip():
    state = game.initial_state("student", 5)
    a, b = a_miss(state)
    state, events = flip(state, "student", a, b)
    assert events[-2:] == [
        {"type": "miss", "player": "student", "cards": [a, b]},
        {"type": "turn", "player": "therapist"},
    ]
    assert state["turn"] == "therapist" and state["revealed"] == [a, b]
    assert game.view(state, "therapist")["cards"][a] == state["cards"][a]
    # The therapist's flip first turns the missed pair back over, then flips the chosen card.
    c = next(card for card in range(16) if card not in (a, b))
    state, events = flip(state, "therapist", c)
    assert events[0] == {"type": "hide", "cards": [a, b]}
    assert events[1] == {"type": "flip", "player": "therapist", "card": c, "picture": state["cards"][c]}
    assert state["revealed"] == [c]
    assert game.view(state, "student")["cards"][a] is None


def test_therapist_can_flip_a_card_the_student_just_missed():
    state = game.initial_state("student", 5)
    a, b = a_miss(state)
    state, _ = flip(state, "student", a, b)
    assert {"card": a} in game.legal_moves(state, "therapist")
    state, _ = flip(state, "therapist", a)
    assert state["revealed"] == [a]


def test_student_cannot_flip_the_same_card_twice_in_a_turn():
    state, _ = flip(game.initial_state("student", 5), "student", 0)
    assert {"card": 0} not in game.legal_moves(state, "student")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"card": 0}, "student")
    assert caught.value.code == "card_taken"


def test_student_cannot_flip_a_matched_card():
    state = game.initial_state("student", 5)
    a, b = pairs(state)[0]
    state, _ = flip(state, "student", a, b)
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"card": a}, "student")
    assert caught.value.code == "card_taken"


def test_therapist_cannot_flip_out_of_turn():
    state = game.initial_state("student", 5)
    assert game.legal_moves(state, "therapist") == []
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"card": 0}, "therapist")
    assert caught.value.code == "not_your_turn"


def play_out(state, split):
    """Match every pair: the student takes the first `split` pairs, then misses once, the therapist the rest."""
    all_pairs = pairs(state)
    for a, b in all_pairs[:split]:
        state, events = flip(state, "student", a, b)
    if split < len(all_pairs):
        state, events = flip(state, "student", all_pairs[split][0], all_pairs[-1][0])  # a miss
        for a, b in all_pairs[split:]:
            state, events = flip(state, "therapist", a, b)
    return state, events


def test_more_pairs_wins():
    state, events = play_out(game.initial_state("student", 9), 5)
    assert state["scores"] == {"student": 5, "therapist": 3}
    assert events[-1] == {"type": "win", "winner": "student", "scores": {"student": 5, "therapist": 3}}
    assert game.result(state) == {"winner": "student", "draw": False}
    assert state["turn"] is None and game.legal_moves(state, "student") == []


def test_therapist_can_win():
    state, _ = play_out(game.initial_state("student", 9), 2)
    assert game.result(state) == {"winner": "therapist", "draw": False}


def test_equal_pairs_is_a_draw():
    state, events = play_out(game.initial_state("student", 9), 4)
    assert events[-1] == {"type": "draw", "scores": {"student": 4, "therapist": 4}}
    assert game.result(state) == {"winner": None, "draw": True}


def test_nobody_can_flip_after_the_game_is_over():
    state, _ = play_out(game.initial_state("student", 9), 8)
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"card": 0}, "student")
    assert caught.value.code == "game_over"


def test_view_hides_the_faces_of_face_down_cards():
    state = game.initial_state("student", 3)
    view = game.view(state, "student")
    assert view["cards"] == [None] * 16
    assert "seed" not in view and not set(json.dumps(view).split('"')) & set(PICTURES)
    a, b = pairs(state)[0]
    c = pairs(state)[1][0]
    state, _ = flip(state, "student", a, b, c)
    view = game.view(state, "therapist")
    shown = {i: face for i, face in enumerate(view["cards"]) if face is not None}
    assert shown == {a: state["cards"][a], b: state["cards"][b], c: state["cards"][c]}
    assert game.view(state, "student") == view


@pytest.mark.parametrize(
    "move",
    [
        None,
        [],
        "1",
        1.5,
        True,
        {"card": True},
        {"card": -1},
        {"card": 16},
        {"card": 10**9},
        {"card": "3"},
        {"card": 3.0},
        {"card": [3]},
        {"card": {"card": 3}},
        {"cards": [1, 2]},
        {"card": 1, "also": 2},
    ],
)
def test_malformed_moves_are_refused(move):
    with pytest.raises(IllegalMove) as caught:
        game.validate_move(move)
    assert caught.value.code == "malformed"


def test_apply_never_mutates_its_input():
    state = game.initial_state("student", 5)
    a, b = a_miss(state)
    state, _ = flip(state, "student", a, b)
    before = copy.deepcopy(state)
    new, _ = game.apply(state, {"card": a}, "therapist")
    assert state == before and new["revealed"] == [a]


def test_state_survives_a_json_round_trip():
    state = game.initial_state("student", 5)
    first, second, third = pairs(state)[:3]
    state, _ = flip(state, "student", *first, second[0], third[0])
    assert json.loads(json.dumps(state)) == state
