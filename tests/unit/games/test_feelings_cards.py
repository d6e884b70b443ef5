import copy
import json
from collections import Counter

import pytest

from app.games.rules import FeelingsCards, IllegalMove
from app.games.rules.feelings_cards import CARDS

game = FeelingsCards()
ALL_IDS = sorted(card["id"] for card in CARDS)


def draws(state, count, player="student", kind="draw"):
    for _ in range(count):
        state, _ = game.apply(state, {"kind": kind}, player)
    return state


def test_the_deck_has_at_least_24_distinct_gentle_cards():
    assert len(CARDS) >= 24
    assert len(ALL_IDS) == len(set(ALL_IDS))
    assert len({card["feeling"] for card in CARDS}) >= 8
    for card in CARDS:
        assert set(card) == {"id", "feeling", "prompt"}
        assert card["prompt"].endswith((".", "?", "!")) and len(card["prompt"]) <= 80


def test_the_deck_is_shuffled_by_seed():
    state = game.initial_state("student", 1)
    assert sorted(state["deck"]) == ALL_IDS
    assert game.initial_state("therapist", 1)["deck"] == state["deck"]
    assert game.initial_state("student", 2)["deck"] != state["deck"]


@pytest.mark.parametrize("player", ["student", "therapist"])
def test_either_player_can_draw_and_both_see_the_card(player):
    state = game.initial_state("student", 1)
    top = state["deck"][0]
    state, events = game.apply(state, {"kind": "draw"}, player)
    card = next(card for card in CARDS if card["id"] == top)
    assert events == [{"type": "card", "player": player, "card": card}]
    for viewer in ("student", "therapist"):
        assert game.view(state, viewer)["current"] == card


def test_drawing_again_discards_the_current_card():
    state = draws(game.initial_state("student", 1), 2)
    assert len(state["discards"]) == 1 and state["history"] == [state["discards"][0], state["current"]]


def test_skip_discards_the_current_card_and_draws_the_next():
    state = draws(game.initial_state("student", 1), 1)
    skipped, following = state["current"], state["deck"][0]
    state, events = game.apply(state, {"kind": "skip"}, "therapist")
    assert events[0] == {"type": "skip", "player": "therapist", "card_id": skipped}
    assert events[-1]["card"]["id"] == following
    assert state["discards"] == [skipped] and state["current"] == following


def test_skip_with_no_card_showing_is_refused():
    state = game.initial_state("student", 1)
    assert game.legal_moves(state, "student") == [{"kind": "draw"}]
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"kind": "skip"}, "student")
    assert caught.value.code == "nothing_to_skip"


def test_an_empty_deck_reshuffles_the_discards_repeatably_without_repeating_the_last_card():
    state = draws(game.initial_state("student", 4), len(CARDS))
    assert state["deck"] == [] and len(state["discards"]) == len(CARDS) - 1
    last = state["current"]
    again, events = game.apply(state, {"kind": "draw"}, "therapist")
    assert events[0] == {"type": "reshuffle", "count": len(CARDS) - 1}
    assert again["current"] != last and again["discards"] == [last] and again["reshuffles"] == 1
    assert game.apply(state, {"kind": "draw"}, "therapist")[0] == again
    assert Counter(again["deck"] + again["discards"] + [again["current"]]) == Counter(ALL_IDS)


def test_every_card_comes_up_once_per_round():
    state = draws(game.initial_state("student", 8), len(CARDS))
    assert sorted(state["history"]) == ALL_IDS


def test_the_game_never_ends_and_history_stays_bounded():
    state = draws(game.initial_state("student", 8), 500)
    assert game.result(state) is None and not game.is_over(state)
    assert len(state["history"]) == 200 and state["reshuffles"] > 0


def test_view_hides_the_deck_order_and_seed():
    state = draws(game.initial_state("student", 6), 3)
    view = game.view(state, "student")
    assert view == {
        "game": "feelings_cards",
        "current": view["current"],
        "remaining": len(CARDS) - 3,
        "discarded": 2,
        "history": state["history"],
    }
    assert "deck" not in view and "seed" not in view
    text = json.dumps(view)
    assert not [card_id for card_id in state["deck"] if card_id in text]


@pytest.mark.parametrize(
    "move",
    [
        None,
        [],
        "draw",
        1,
        True,
        {},
        {"kind": None},
        {"kind": "shuffle"},
        {"kind": ["draw"]},
        {"kind": {"kind": "draw"}},
        {"kind": "draw", "card": 1},
        {"kind": "d" * 100_000},
        {"action": "draw"},
    ],
)
def test_malformed_moves_are_refused(move):
    with pytest.raises(IllegalMove) as caught:
        game.validate_move(move)
    assert caught.value.code == "malformed"


def test_apply_never_mutates_its_input():
    state = draws(game.initial_state("student", 1), len(CARDS))
    before = copy.deepcopy(state)
    game.apply(state, {"kind": "skip"}, "student")
    assert state == before


def test_state_survives_a_json_round_trip():
    state = draws(game.initial_state("student", 1), 30)
    assert json.loads(json.dumps(state)) == state
