"""Property tests: random play never breaks a game's invariants, and hostile input is always refused cleanly.

Each game has an `_assert_invariants_<game>` that checks a state from first principles, and
finished games are re-scored here from the board, never with the game's own helpers.
"""

import copy
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.games.registry import GAMES
from app.games.rules import ROLES, DrawingBoard, FeelingsCards, IllegalMove, MemoryMatch
from app.games.rules.drawing_board import MAX_STROKES, PALETTE
from app.games.rules.feelings_cards import CARDS, HISTORY_LIMIT

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENUMERABLE = ["tic_tac_toe", "connect_four", "memory_match", "feelings_cards", "mood_checkin"]
# Every move each enumerable game could ever accept, to check legal_moves against apply.
MOVE_SPACE = {
    "tic_tac_toe": [{"cell": c} for c in range(9)],
    "connect_four": [{"column": c} for c in range(7)],
    "memory_match": [{"card": c} for c in range(16)],
    "feelings_cards": [{"kind": "draw"}, {"kind": "skip"}],
    "mood_checkin": [{"phase": p, "mood": m} for p in ("start", "end") for m in range(1, 6)],
}
C4_WINDOWS = [
    [(row + i * d_row, column + i * d_col) for i in range(4)]
    for row in range(6)
    for column in range(7)
    for d_row, d_col in ((0, 1), (1, 0), (1, 1), (1, -1))
    if 0 <= row + 3 * d_row < 6 and 0 <= column + 3 * d_col < 7
]
assert len(C4_WINDOWS) == 69  # 24 across, 21 up-down, 12 + 12 diagonal
TTT_LINES = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]]


def _expected_grid_result(winners, full):
    assert len(winners) <= 1, f"more than one winner: {winners}"
    if winners:
        return {"winner": winners.pop(), "draw": False}
    return {"winner": None, "draw": True} if full else None


def _assert_invariants_tic_tac_toe(game, state):
    board = state["board"]
    x_player = next(role for role, mark in state["marks"].items() if mark == "X")
    o_player = next(role for role in ROLES if role != x_player)
    assert len(board) == 9 and set(board) <= {None, *ROLES}
    assert board.count(x_player) - board.count(o_player) in (0, 1)
    winners = {
        board[line[0]] for line in TTT_LINES if board[line[0]] is not None and len({board[i] for i in line}) == 1
    }
    expected = _expected_grid_result(winners, None not in board)
    assert game.result(state) == expected
    if expected is None:
        assert state["turn"] == (x_player if board.count(x_player) == board.count(o_player) else o_player)
    else:
        assert state["turn"] is None


def _assert_invariants_connect_four(game, state):
    board = state["board"]
    assert len(board) == 6 and all(len(row) == 7 for row in board)
    for row in range(5):
        for column in range(7):
            if board[row][column] is not None:
                assert board[row + 1][column] is not None, f"floating disc at {row},{column}"
    cells = [cell for row in board for cell in row]
    first = state["first_player"]
    second = next(role for role in ROLES if role != first)
    assert cells.count(first) - cells.count(second) in (0, 1)
    winners = set()
    for window in C4_WINDOWS:
        owners = {board[r][c] for r, c in window}
        if len(owners) == 1 and None not in owners:
            winners |= owners
    expected = _expected_grid_result(winners, None not in cells)
    assert game.result(state) == expected
    assert (state["turn"] is None) == (expected is not None)


def _assert_invariants_memory_match(game, state):
    cards, owner, revealed = state["cards"], state["owner"], state["revealed"]
    assert sorted(Counter(cards).values()) == [2] * 8
    positions = {}
    for index, picture in enumerate(cards):
        positions.setdefault(picture, []).append(index)
    for a, b in positions.values():
        assert owner[a] == owner[b], "matched cards must come in pairs"
    for role in ROLES:
        assert state["scores"][role] * 2 == owner.count(role)
    assert len(revealed) <= 2 and len(set(revealed)) == len(revealed)
    assert all(owner[card] is None for card in revealed)
    if len(revealed) == 2:
        assert cards[revealed[0]] != cards[revealed[1]], "a face-up pair that matches should be matched"
    for role in ROLES:
        view = game.view(state, role)
        face_up = set(revealed) | {i for i in range(16) if owner[i] is not None}
        assert view["cards"] == [cards[i] if i in face_up else None for i in range(16)]
    if None in owner:
        assert game.result(state) is None and state["turn"] in ROLES
    else:
        t, s = owner.count("therapist"), owner.count("student")
        winner = None if t == s else ("therapist" if t > s else "student")
        assert game.result(state) == {"winner": winner, "draw": t == s}
        assert state["turn"] is None


def _assert_invariants_feelings_cards(game, state):
    shown = [state["current"]] if state["current"] is not None else []
    assert Counter(state["deck"] + state["discards"] + shown) == Counter(card["id"] for card in CARDS)
    assert len(state["history"]) <= HISTORY_LIMIT
    assert (state["history"][-1] if state["history"] else None) == state["current"]
    for role in ROLES:
        view = game.view(state, role)
        assert "deck" not in view and "seed" not in view and view["remaining"] == len(state["deck"])
    assert game.result(state) is None


def _assert_invariants_mood_checkin(game, state):
    assert state["start"] in (None, 1, 2, 3, 4, 5) and state["end"] in (None, 1, 2, 3, 4, 5)
    assert state["end"] is None or state["start"] is not None
    assert game.result(state) is None
    assert game.is_over(state) == (state["end"] is not None)


def _assert_invariants_drawing_board(game, state):
    strokes = state["strokes"]
    assert len(strokes) <= MAX_STROKES
    assert len({stroke["id"] for stroke in strokes}) == len(strokes)
    for stroke in strokes:
        move = {"kind": "stroke", "stroke_id": stroke["id"], **{k: stroke[k] for k in ("color", "width", "points")}}
        assert game.validate_move(move)["points"] == stroke["points"]
        assert stroke["player"] in ROLES


INVARIANTS = {
    name[len("_assert_invariants_") :]: check
    for name, check in globals().items()
    if name.startswith("_assert_invariants_")
}


def _step(game, state, player, move):
    """Apply a move, checking purity and JSON state; return the new state."""
    before = copy.deepcopy(state)
    new, events = game.apply(state, move, player)
    assert state == before, "apply mutated its input"
    assert json.loads(json.dumps(new)) == new
    assert json.loads(json.dumps(events)) == events and all("type" in event for event in events)
    INVARIANTS[game.name](game, new)
    return new


def _random_play(game, data, max_moves):
    """Play up to `max_moves` random legal moves (memory players sometimes remember the partner card)."""
    state = game.initial_state(data.draw(st.sampled_from(ROLES)), data.draw(st.integers(0, 2**32)))
    INVARIANTS[game.name](game, state)
    for _ in range(data.draw(st.integers(0, max_moves))):
        options = [(player, move) for player in ROLES for move in game.legal_moves(state, player)]
        if not options:
            assert game.is_over(state), "a game that is not over must have a legal move"
            break
        player, move = data.draw(st.sampled_from(options))
        if isinstance(game, MemoryMatch) and len(state["revealed"]) == 1 and data.draw(st.booleans()):
            partner = [
                i
                for i, card in enumerate(state["cards"])
                if card == state["cards"][state["revealed"][0]] and i != state["revealed"][0]
            ]
            move = {"card": partner[0]}
        state = _step(game, state, player, move)
    return state


MAX_MOVES = {"tic_tac_toe": 9, "connect_four": 42, "memory_match": 60, "feelings_cards": 60, "mood_checkin": 2}


@pytest.mark.parametrize("name", ENUMERABLE)
@SETTINGS
@given(data=st.data())
def test_random_legal_play_keeps_every_invariant(name, data):
    game = GAMES[name]
    state = _random_play(game, data, MAX_MOVES[name])
    # legal_moves is exactly what apply accepts, here and now.
    for player in ROLES:
        legal = game.legal_moves(state, player)
        for move in MOVE_SPACE[name]:
            try:
                game.apply(state, move, player)
            except IllegalMove as error:
                assert move not in legal, f"{player} {move} is listed as legal but refused: {error.code}"
            else:
                assert move in legal, f"{player} {move} is accepted but not listed as legal"


@SETTINGS
@given(data=st.data())
def test_a_finished_grid_or_memory_game_is_scored_correctly(data):
    name = data.draw(st.sampled_from(["tic_tac_toe", "connect_four", "memory_match"]))
    game = GAMES[name]
    state = game.initial_state(data.draw(st.sampled_from(ROLES)), data.draw(st.integers(0, 2**32)))
    free_second_flips = data.draw(st.integers(0, 12))  # memory: random second flips allowed, then play perfectly
    while not game.is_over(state):
        options = [(player, move) for player in ROLES for move in game.legal_moves(state, player)]
        player, move = data.draw(st.sampled_from(options))
        if name == "memory_match" and len(state["revealed"]) == 1:
            if free_second_flips:
                free_second_flips -= 1
            else:
                first = state["revealed"][0]
                partner = next(
                    i for i, card in enumerate(state["cards"]) if card == state["cards"][first] and i != first
                )
                move = {"card": partner}
        state, _ = game.apply(state, move, player)
    # Per-move checks are in the test above; here the finished game is re-scored from the board.
    INVARIANTS[name](game, state)
    assert game.result(state) is not None


stroke_ids = st.text(alphabet="abc", min_size=1, max_size=2)  # small, so duplicates happen
points = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)).map(list), min_size=2, max_size=8)
drawing_moves = st.one_of(
    st.builds(
        lambda i, c, w, p: {"kind": "stroke", "stroke_id": i, "color": c, "width": w, "points": p},
        stroke_ids,
        st.sampled_from(sorted(PALETTE)),
        st.integers(1, 40),
        points,
    ),
    st.just({"kind": "undo"}),
    st.just({"kind": "clear"}),
)


@SETTINGS
@given(steps=st.lists(st.tuples(st.sampled_from(ROLES), drawing_moves), max_size=40))
def test_random_drawing_matches_a_simple_model(steps):
    game = DrawingBoard()
    state = game.initial_state("student", 0)
    model = []  # (stroke_id, player), oldest first
    for player, move in steps:
        kind = move["kind"]
        allowed = (
            (kind == "stroke" and move["stroke_id"] not in [i for i, _ in model])
            or (kind == "undo" and any(p == player for _, p in model))
            or (kind == "clear" and player == "therapist")
        )
        assert (kind in [m["kind"] for m in game.legal_moves(state, player)]) == (allowed or kind == "stroke")
        if not allowed:
            before = copy.deepcopy(state)
            with pytest.raises(IllegalMove) as caught:
                game.apply(state, move, player)
            assert caught.value.code in {"duplicate_stroke", "nothing_to_undo", "not_allowed"}
            assert state == before
            continue
        state = _step(game, state, player, move)
        if kind == "stroke":
            model.append((move["stroke_id"], player))
        elif kind == "undo":
            model.pop(max(i for i, (_, p) in enumerate(model) if p == player))
        else:
            model.clear()
        assert [(s["id"], s["player"]) for s in state["strokes"]] == model


@SETTINGS
@given(seed=st.integers(0, 2**32), draws=st.integers(0, 80))
def test_feelings_deck_is_a_repeatable_function_of_the_seed(seed, draws):
    game = FeelingsCards()
    first = second = game.initial_state("student", seed)
    for _ in range(draws):
        first, _ = game.apply(first, {"kind": "draw"}, "student")
        second, _ = game.apply(second, {"kind": "draw"}, "therapist")
    assert first == second


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# Payloads shaped like real moves, with the right keys and wrong (or occasionally right) values.
near_values = (
    json_values
    | st.integers(-2, 20)
    | st.sampled_from(["stroke", "undo", "clear", "draw", "skip", "start", "end", "blue", "s1"])
    | points
)
near_moves = st.dictionaries(
    st.sampled_from(["cell", "column", "card", "kind", "phase", "mood", "stroke_id", "color", "width", "points", "x"]),
    near_values,
    max_size=6,
)
hostile = json_values | near_moves


@pytest.mark.parametrize("name", sorted(GAMES))
@SETTINGS
@given(move=hostile)
def test_validate_move_only_ever_raises_illegal_move(name, move):
    game = GAMES[name]
    try:
        clean = game.validate_move(move)
    except IllegalMove as error:
        assert error.code == "malformed" and error.message
    else:
        assert isinstance(clean, dict) and game.validate_move(clean) == clean
        assert json.loads(json.dumps(clean)) == clean


@pytest.mark.parametrize("name", sorted(GAMES))
@SETTINGS
@given(data=st.data(), move=hostile, player=st.sampled_from([*ROLES, "admin"]))
def test_apply_with_garbage_never_mutates_state(name, data, move, player):
    game = GAMES[name]
    state = _random_play(game, data, 6) if name != "drawing_board" else game.initial_state("student", 0)
    before = copy.deepcopy(state)
    try:
        new, _ = game.apply(state, move, player)
    except IllegalMove as error:
        assert error.code and error.message
    else:
        assert player in ROLES
        INVARIANTS[name](game, new)
    assert state == before
