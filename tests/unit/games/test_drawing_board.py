import copy
import json

import pytest

from app.games.rules import DrawingBoard, IllegalMove
from app.games.rules.drawing_board import MAX_BOARD_POINTS, MAX_POINTS, MAX_STROKES, PALETTE

game = DrawingBoard()


def stroke(stroke_id="s1", color="blue", width=4, points=None):
    return {
        "kind": "stroke",
        "stroke_id": stroke_id,
        "color": color,
        "width": width,
        "points": points if points is not None else [[0.1, 0.2], [0.3, 0.4]],
    }


def draw(state, player, *ids):
    for stroke_id in ids:
        state, _ = game.apply(state, stroke(stroke_id), player)
    return state


def test_palette_is_okabe_ito():
    assert set(PALETTE.values()) == {
        "#000000",
        "#E69F00",
        "#56B4E9",
        "#009E73",
        "#F0E442",
        "#0072B2",
        "#D55E00",
        "#CC79A7",
    }


def test_both_players_can_draw_without_taking_turns():
    state = game.initial_state("student", 0)
    state, events = game.apply(state, stroke("a"), "therapist")
    state, _ = game.apply(state, stroke("b"), "therapist")
    state, _ = game.apply(state, stroke("c"), "student")
    assert [(s["id"], s["player"]) for s in state["strokes"]] == [
        ("a", "therapist"),
        ("b", "therapist"),
        ("c", "student"),
    ]
    assert events == [
        {
            "type": "stroke",
            "player": "therapist",
            "stroke": {
                "id": "a",
                "player": "therapist",
                "color": "blue",
                "width": 4,
                "points": [[0.1, 0.2], [0.3, 0.4]],
            },
        }
    ]
    assert game.result(state) is None and not game.is_over(state)


def test_points_are_rounded_and_ints_accepted():
    clean = game.validate_move(stroke(points=[[0, 1], [0.123456789, 0.5]]))
    assert clean["points"] == [[0.0, 1.0], [0.1235, 0.5]]
    assert all(isinstance(v, float) for point in clean["points"] for v in point)


def test_points_at_the_size_limits_are_accepted():
    assert len(game.validate_move(stroke(points=[[0.5, 0.5]] * 500))["points"]) == 500
    assert game.validate_move(stroke(stroke_id="x" * 40, width=40))["width"] == 40
    assert game.validate_move(stroke(width=1))["width"] == 1


def test_student_can_undo_only_their_own_latest_stroke():
    state = draw(game.initial_state("student", 0), "student", "s1", "s2")
    state = draw(state, "therapist", "t1")
    state, events = game.apply(state, {"kind": "undo"}, "student")
    assert events == [{"type": "undo", "player": "student", "stroke_id": "s2"}]
    assert [s["id"] for s in state["strokes"]] == ["s1", "t1"]


def test_undo_with_nothing_of_yours_is_refused():
    state = draw(game.initial_state("student", 0), "therapist", "t1")
    assert {"kind": "undo"} not in game.legal_moves(state, "student")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"kind": "undo"}, "student")
    assert caught.value.code == "nothing_to_undo"


def test_therapist_can_clear_the_board():
    state = draw(game.initial_state("student", 0), "student", "s1", "s2")
    state, events = game.apply(state, {"kind": "clear"}, "therapist")
    assert state["strokes"] == [] and events == [{"type": "clear", "player": "therapist"}]


def test_student_cannot_clear_the_board():
    state = draw(game.initial_state("student", 0), "student", "s1")
    assert {"kind": "clear"} not in game.legal_moves(state, "student")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, {"kind": "clear"}, "student")
    assert caught.value.code == "not_allowed"
    assert caught.value.message == "Only the therapist can clear the board."


def test_a_stroke_id_already_on_the_board_is_refused_but_can_return_after_undo():
    state = draw(game.initial_state("student", 0), "student", "same")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, stroke("same"), "therapist")
    assert caught.value.code == "duplicate_stroke"
    state, _ = game.apply(state, {"kind": "undo"}, "student")
    assert game.apply(state, stroke("same"), "therapist")[0]["strokes"][0]["id"] == "same"


def test_the_board_holds_at_most_a_thousand_strokes():
    state = draw(game.initial_state("student", 0), "student", *(f"s{i}" for i in range(MAX_STROKES)))
    assert len(state["strokes"]) == MAX_STROKES
    assert game.legal_moves(state, "student") == [{"kind": "undo"}]
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, stroke("one-more"), "therapist")
    assert caught.value.code == "board_full"
    state, _ = game.apply(state, {"kind": "undo"}, "student")
    assert len(game.apply(state, stroke("one-more"), "therapist")[0]["strokes"]) == MAX_STROKES


def test_the_board_holds_at_most_ten_thousand_points():
    full_line = [[0.5, round(i / MAX_POINTS, 4)] for i in range(MAX_POINTS)]
    state = game.initial_state("student", 0)
    for i in range(MAX_BOARD_POINTS // MAX_POINTS):
        state, _ = game.apply(state, stroke(f"long{i}", points=full_line), "student")
    assert sum(len(s["points"]) for s in state["strokes"]) == MAX_BOARD_POINTS == 10_000
    assert {"kind": "stroke"} not in game.legal_moves(state, "therapist")
    with pytest.raises(IllegalMove) as caught:
        game.apply(state, stroke("two-points"), "therapist")
    assert caught.value.code == "board_full" and "clear" in caught.value.message
    state, _ = game.apply(state, {"kind": "clear"}, "therapist")
    assert game.apply(state, stroke("two-points"), "therapist")[0]["strokes"][0]["id"] == "two-points"


def test_a_stroke_holds_at_most_500_points():
    with pytest.raises(IllegalMove) as caught:
        game.apply(game.initial_state("student", 0), stroke(points=[[0.5, 0.5]] * (MAX_POINTS + 1)), "student")
    assert caught.value.code == "malformed" and "500 points" in caught.value.message


def test_legal_moves_lists_the_kinds_each_role_may_use():
    state = game.initial_state("student", 0)
    assert game.legal_moves(state, "student") == [{"kind": "stroke"}]
    assert game.legal_moves(state, "therapist") == [{"kind": "stroke"}, {"kind": "clear"}]
    state = draw(state, "student", "s1")
    assert game.legal_moves(state, "student") == [{"kind": "stroke"}, {"kind": "undo"}]


@pytest.mark.parametrize(
    "move",
    [
        None,
        [],
        "stroke",
        1.5,
        True,
        {},
        {"kind": None},
        {"kind": "erase"},
        {"kind": ["undo"]},
        {"kind": "undo", "stroke_id": "s1"},
        {"kind": "clear", "all": True},
        stroke(stroke_id=""),
        stroke(stroke_id="x" * 41),
        stroke(stroke_id="<script>"),
        stroke(stroke_id=7),
        stroke(stroke_id="a b"),
        stroke(color="red"),
        stroke(color="#0072B2"),
        stroke(color=["blue"]),
        stroke(width=0),
        stroke(width=41),
        stroke(width=True),
        stroke(width=4.0),
        stroke(width="4"),
        stroke(points=[]),
        stroke(points=[[0.5, 0.5]]),
        stroke(points=[[0.5, 0.5]] * 501),
        stroke(points=[[0.5, 0.5]] * 10**5),
        stroke(points="[[0,0],[1,1]]"),
        stroke(points={"0": [0, 0]}),
        stroke(points=[[0, 0], [1.01, 0]]),
        stroke(points=[[0, 0], [-0.01, 0]]),
        stroke(points=[[0, 0], [0, 10**400]]),
        stroke(points=[[0, 0], [float("nan"), 0]]),
        stroke(points=[[0, 0], [float("inf"), 0]]),
        stroke(points=[[0, 0], [True, 0]]),
        stroke(points=[[0, 0], ["0.5", 0]]),
        stroke(points=[[0, 0], [0.5]]),
        stroke(points=[[0, 0], [0.5, 0.5, 0.5]]),
        stroke(points=[[0, 0], None]),
        stroke(points=[[0, 0], {"x": 0}]),
        {**stroke(), "extra": 1},
        {k: v for k, v in stroke().items() if k != "width"},
    ],
)
def test_malformed_moves_are_refused(move):
    with pytest.raises(IllegalMove) as caught:
        game.validate_move(move)
    assert caught.value.code == "malformed"


def test_apply_never_mutates_its_input_and_new_states_do_not_share_lists():
    state = draw(game.initial_state("student", 0), "student", "s1", "s2")
    before = copy.deepcopy(state)
    added, _ = game.apply(state, stroke("s3"), "therapist")
    undone, _ = game.apply(state, {"kind": "undo"}, "student")
    cleared, _ = game.apply(state, {"kind": "clear"}, "therapist")
    assert state == before
    assert len(added["strokes"]) == 3 and len(undone["strokes"]) == 1 and cleared["strokes"] == []


def test_the_move_payload_is_not_kept_by_reference():
    move = stroke("s1")
    state, events = game.apply(game.initial_state("student", 0), move, "student")
    move["points"][0][0] = 0.9
    assert state["strokes"][0]["points"][0][0] == 0.1
    events[0]["stroke"]["points"][0][0] = 0.8
    game.view(state, "student")["strokes"][0]["points"][0][0] = 0.7
    assert state["strokes"][0]["points"][0][0] == 0.1


def test_state_survives_a_json_round_trip_and_both_see_everything():
    state = draw(game.initial_state("student", 0), "student", "s1")
    assert json.loads(json.dumps(state)) == state
    assert game.view(state, "therapist") == state == game.view(state, "student")
