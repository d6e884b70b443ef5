"""A shared drawing board."""

from __future__ import annotations

import re
from typing import Any

from app.games.rules.base import (
    THERAPIST,
    GameRules,
    IllegalMove,
    check_role,
    expect_choice,
    expect_fields,
    expect_int,
    malformed,
)

# Okabe & Ito's palette, which people with the common colour-vision differences can tell apart.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# Limits that keep one board (saved whole after every stroke, sent whole on connect and sync)
# small: at most 1000 strokes, 2..500 points per stroke, and 10,000 points on the whole board
# (about 190 KB of JSON). A stroke over a limit is refused ("malformed" for its own size,
# "board_full" for the board's) and nothing changes.
MAX_STROKES = 1000
MIN_POINTS, MAX_POINTS = 2, 500
MAX_BOARD_POINTS = 10_000
MAX_WIDTH = 40
STROKE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
KINDS = ("stroke", "undo", "clear")


def _coordinate(value: Any) -> float:
    # Range-check before float(): float(10**400) would overflow; NaN fails the comparison.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise malformed("Drawing points must be on the board.")
    return round(float(value), 4)


def _points(value: Any) -> list[list[float]]:
    if not isinstance(value, list | tuple) or not MIN_POINTS <= len(value) <= MAX_POINTS:
        raise malformed(f"A line needs {MIN_POINTS} to {MAX_POINTS} points.")
    points = []
    for point in value:
        if not isinstance(point, list | tuple) or len(point) != 2:
            raise malformed("Drawing points must be on the board.")
        points.append([_coordinate(point[0]), _coordinate(point[1])])
    return points


class DrawingBoard(GameRules):
    """A shared canvas: both players draw whenever they like (there are no turns).

    Moves: add a stroke; undo your own most recent stroke; clear the board (therapist only).
    At most MAX_STROKES strokes and MAX_BOARD_POINTS points are on the board at once. Stroke ids are chosen by the browser and
    must be unique among the strokes on the board. It is an activity, not a contest: it never
    ends and `result` is always None; the session decides when to stop.

    State: {"game", "strokes": [{"id", "player", "color", "width", "points"}, ...] oldest first}.
    Strokes are never changed in place, so `apply` shares them between the old and new state
    instead of deep-copying a canvas that can hold half a million points.
    """

    name = "drawing_board"
    title = "Drawing Board"
    description = "Draw together on a shared page."
    palette = PALETTE
    # A move's `game` message carries only its events (the stroke, undo or clear), never the
    # whole board: the browser applies them to the board it holds (static/js/games-drawing.js).
    DELTA_EVENTS = True

    def initial_state(self, first_player: str, seed: int) -> dict:
        self._check_start(first_player, seed)
        return {"game": self.name, "strokes": []}

    def validate_move(self, move: Any) -> dict:
        """Moves, as {"kind": ...}:
        - {"kind": "stroke", "stroke_id": 1-40 of A-Z a-z 0-9 _ -, "color": a PALETTE name,
          "width": int 1..40, "points": 2..500 [x, y] pairs of numbers in 0..1 (rounded to 4 places)}
        - {"kind": "undo"}
        - {"kind": "clear"}
        """
        if not isinstance(move, dict):
            raise malformed()
        kind = expect_choice(move.get("kind"), KINDS)
        if kind != "stroke":
            expect_fields(move, ["kind"])
            return {"kind": kind}
        move = expect_fields(move, ["kind", "stroke_id", "color", "width", "points"])
        stroke_id = move["stroke_id"]
        if not isinstance(stroke_id, str) or not STROKE_ID.fullmatch(stroke_id):
            raise malformed()
        return {
            "kind": "stroke",
            "stroke_id": stroke_id,
            "color": expect_choice(move["color"], PALETTE, "Pick one of the colours."),
            "width": expect_int(move["width"], 1, MAX_WIDTH, "Pick a pen size."),
            "points": _points(move["points"]),
        }

    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Either player, at any time:
        - stroke: refused if the board is full (MAX_STROKES strokes, or MAX_BOARD_POINTS points
          with this stroke's: "board_full") or the id is on the board
          ("duplicate_stroke"). Event {"type": "stroke", "player", "stroke": {"id", "player",
          "color", "width", "points"}}.
        - undo: removes the player's own most recent stroke; refused if they have none
          ("nothing_to_undo"). Event {"type": "undo", "player", "stroke_id"}.
        - clear: therapist only ("not_allowed"). Event {"type": "clear", "player"}.
        """
        new, clean = self._prepare(state, move, player)
        kind = clean["kind"]
        strokes = new["strokes"]
        if kind == "stroke":
            if (len(strokes) >= MAX_STROKES
                    or _board_points(strokes) + len(clean["points"]) > MAX_BOARD_POINTS):
                raise IllegalMove("board_full", "The board is full — ask to clear it to keep drawing.")
            if any(stroke["id"] == clean["stroke_id"] for stroke in strokes):
                raise IllegalMove("duplicate_stroke", "That line is already on the board.")
            stroke = {
                "id": clean["stroke_id"],
                "player": player,
                "color": clean["color"],
                "width": clean["width"],
                "points": clean["points"],
            }
            strokes.append(stroke)
            return new, [{"type": "stroke", "player": player, "stroke": _copy_stroke(stroke)}]
        if kind == "undo":
            mine = [i for i, stroke in enumerate(strokes) if stroke["player"] == player]
            if not mine:
                raise IllegalMove("nothing_to_undo", "There's nothing of yours to undo.")
            removed = strokes.pop(mine[-1])
            return new, [{"type": "undo", "player": player, "stroke_id": removed["id"]}]
        if player != THERAPIST:
            raise IllegalMove("not_allowed", "Only the therapist can clear the board.")
        strokes.clear()
        return new, [{"type": "clear", "player": player}]

    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """The *kinds* of move `player` may make now, as [{"kind": ...}]: "stroke" unless the
        board is full, "undo" if they have a stroke on the board, "clear" for the therapist.
        A stroke needs its other fields filled in (see `validate_move`)."""
        kinds = []
        if len(state["strokes"]) < MAX_STROKES and _board_points(state["strokes"]) + MIN_POINTS <= MAX_BOARD_POINTS:
            kinds.append({"kind": "stroke"})
        if any(stroke["player"] == player for stroke in state["strokes"]):
            kinds.append({"kind": "undo"})
        if player == THERAPIST:
            kinds.append({"kind": "clear"})
        return kinds

    def is_over(self, state: dict) -> bool:
        return False

    def view(self, state: dict, player: str) -> dict:
        """Everything: both players see the whole board."""
        check_role(player)
        return {"game": state["game"], "strokes": [_copy_stroke(stroke) for stroke in state["strokes"]]}

    def _copy_state(self, state: dict) -> dict:
        # A new top-level dict and strokes list; the stroke dicts themselves are never mutated.
        return {**state, "strokes": list(state["strokes"])}


def _board_points(strokes: list[dict]) -> int:
    return sum(len(stroke["points"]) for stroke in strokes)


def _copy_stroke(stroke: dict) -> dict:
    return {**stroke, "points": [list(point) for point in stroke["points"]]}
