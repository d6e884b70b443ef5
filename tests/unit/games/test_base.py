"""The contract every game shares: errors, start-up checks, hostile moves, purity, JSON state."""

import ast
import copy
import json
import pickle
import sys
from pathlib import Path

import pytest

from app.games.registry import GAMES
from app.games.rules import GameRules, IllegalMove
from app.games.rules.base import expect_choice, expect_fields, expect_int, other

RULES_DIR = Path(__file__).resolve().parents[3] / "app" / "games" / "rules"

# Things a browser (or an attacker) might send instead of a move.
GARBAGE = [
    None,
    [],
    [1],
    "1",
    "",
    1,
    1.5,
    True,
    False,
    float("nan"),
    {},
    {"": None},
    {"cell": True},
    {"cell": -1},
    {"cell": 10**9},
    {"cell": 10**400},
    {"cell": "1"},
    {"cell": 1.0},
    {"cell": None},
    {"cell": [1]},
    {"cell": {"cell": 1}},
    {"column": False},
    {"column": 7},
    {"card": 16},
    {"card": -1},
    {"kind": "draw", "extra": 1},
    {"kind": ["draw"]},
    {"kind": "explode"},
    {"kind": "stroke"},
    {"phase": "start"},
    {"phase": "start", "mood": True},
    {"phase": "middle", "mood": 3},
    {"phase": "start", "mood": 6},
    "x" * 1_000_000,
    {"x" * 100_000: 1},
    {"cell": 1, "column": 1, "card": 1, "kind": "draw", "phase": "start", "mood": 1},
    {"a": {"b": {"c": {"d": [[[None]]]}}}},
    [{"cell": 1}],
]


def test_illegal_move_carries_a_code_and_a_friendly_message():
    error = IllegalMove("cell_taken", "That square is already taken — pick another one!")
    assert error.code == "cell_taken"
    assert error.message == "That square is already taken — pick another one!"
    assert str(error) == error.message
    assert isinstance(error, Exception)
    copied = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made
    assert (copied.code, copied.message) == (error.code, error.message)


def test_game_rules_is_abstract():
    with pytest.raises(TypeError):
        GameRules()


def test_other_swaps_the_roles():
    assert other("therapist") == "student"
    assert other("student") == "therapist"


@pytest.mark.parametrize("value", [True, False, 1.0, "3", None, [3], -1, 10])
def test_expect_int_refuses_bools_floats_strings_and_out_of_range(value):
    with pytest.raises(IllegalMove) as caught:
        expect_int(value, 0, 9)
    assert caught.value.code == "malformed"


def test_expect_int_accepts_the_bounds():
    assert expect_int(0, 0, 9) == 0
    assert expect_int(9, 0, 9) == 9


@pytest.mark.parametrize("value", [["a"], {"a": 1}, None, 1, "b"])
def test_expect_choice_refuses_anything_but_a_listed_string(value):
    with pytest.raises(IllegalMove):
        expect_choice(value, ("a",))


@pytest.mark.parametrize("move", [{}, {"a": 1, "b": 2, "c": 3}, {"b": 1}, {"a": 1, "z": 1}, [("a", 1)], None])
def test_expect_fields_wants_exactly_the_named_keys(move):
    with pytest.raises(IllegalMove):
        expect_fields(move, ["a"], ["b"])


def test_expect_fields_allows_optional_keys():
    assert expect_fields({"a": 1, "b": 2}, ["a"], ["b"]) == {"a": 1, "b": 2}


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("first_player", ["teacher", None, "", "Student", ["student"]])
def test_initial_state_refuses_an_unknown_first_player(name, first_player):
    with pytest.raises(ValueError):
        GAMES[name].initial_state(first_player, 1)


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("seed", [True, 1.5, "1", None])
def test_initial_state_refuses_a_seed_that_is_not_an_int(name, seed):
    with pytest.raises(ValueError):
        GAMES[name].initial_state("student", seed)


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("first_player", ["therapist", "student"])
def test_initial_state_is_json_and_repeatable(name, first_player):
    game = GAMES[name]
    state = game.initial_state(first_player, 42)
    assert json.loads(json.dumps(state)) == state
    assert game.initial_state(first_player, 42) == state
    assert state["game"] == name
    assert game.result(state) is None
    assert not game.is_over(state)
    for player in ("therapist", "student"):
        assert json.loads(json.dumps(game.view(state, player))) == game.view(state, player)


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("move", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_refused_as_malformed_without_touching_state(name, move):
    game = GAMES[name]
    state = game.initial_state("student", 3)
    before = copy.deepcopy(state)
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, move, "student")
    assert caught.value.code == "malformed"
    assert state == before


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("player", ["admin", None, "", "THERAPIST", ["student"]])
def test_nobody_but_the_two_roles_can_move_or_look(name, player):
    game = GAMES[name]
    state = game.initial_state("student", 3)
    move = game.legal_moves(state, "student")[0]
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, move, player)
    assert caught.value.code == "not_allowed"
    with pytest.raises(IllegalMove):
        game.view(state, player)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_every_game_documents_its_rules(name):
    cls = type(GAMES[name])
    assert cls.name == name and cls.title and cls.description
    for method in (cls, cls.apply, cls.validate_move, cls.legal_moves):
        assert method.__doc__ and len(method.__doc__.split()) >= 5, method


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.py")), ids=lambda path: path.name)
def test_rules_import_only_the_standard_library(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            assert module.startswith("app.games.rules") or top in sys.stdlib_module_names, (path.name, module)


@pytest.mark.parametrize("path", sorted(RULES_DIR.glob("*.py")), ids=lambda path: path.name)
def test_rules_files_stay_small(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 250
