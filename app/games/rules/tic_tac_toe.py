"""Tic-tac-toe."""

from __future__ import annotations

from typing import Any

from app.games.rules.base import GameRules, IllegalMove, expect_fields, expect_int, other

# Cells are numbered 0..8 left to right, top to bottom.
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


def winning_line(board: list, player: str) -> list[int] | None:
    for line in LINES:
        if all(board[cell] == player for cell in line):
            return list(line)
    return None


class TicTacToe(GameRules):
    """Classic 3x3 tic-tac-toe.

    The first player plays X, the other O; they take turns placing a mark on an empty cell.
    Three marks in a row, column or diagonal win; a full board with no line is a draw.

    State: {"game", "board": 9 cells each None or the role that owns it, "marks": role -> "X"/"O",
    "turn": role to move (None once over), "winner": role or None, "line": winning cells or None,
    "draw": bool}.
    """

    name = "tic_tac_toe"
    title = "Tic-Tac-Toe"
    description = "Take turns placing X and O. Get three in a row to win!"

    def initial_state(self, first_player: str, seed: int) -> dict:
        first = self._check_start(first_player, seed)
        return {
            "game": self.name,
            "board": [None] * 9,
            "marks": {first: "X", other(first): "O"},
            "turn": first,
            "winner": None,
            "line": None,
            "draw": False,
        }

    def validate_move(self, move: Any) -> dict:
        """A move is {"cell": n} with n an int from 0 to 8 (cells run left to right, top to bottom)."""
        move = expect_fields(move, ["cell"])
        return {"cell": expect_int(move["cell"], 0, 8, "Pick a square on the board.")}

    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Place `player`'s mark on an empty cell on their turn.

        Refused: game over ("game_over"), not their turn ("not_your_turn"), cell already
        marked ("cell_taken"). Events: {"type": "move", "player", "cell", "mark"}, then
        {"type": "win", "winner", "line": [three cells]}, {"type": "draw"} or {"type": "turn", "player"}.
        """
        new, clean = self._prepare(state, move, player)
        self._require_turn(new, player)
        cell = clean["cell"]
        board = new["board"]
        if board[cell] is not None:
            raise IllegalMove("cell_taken", "That square is already taken — pick another one!")
        board[cell] = player
        events = [{"type": "move", "player": player, "cell": cell, "mark": new["marks"][player]}]
        line = winning_line(board, player)
        if line is not None:
            new.update(winner=player, line=line, turn=None)
            events.append({"type": "win", "winner": player, "line": line})
        elif all(square is not None for square in board):
            new.update(draw=True, turn=None)
            events.append({"type": "draw"})
        else:
            new["turn"] = other(player)
            events.append({"type": "turn", "player": new["turn"]})
        return new, events

    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """Every empty cell, for the player whose turn it is; nobody else may move."""
        if self.is_over(state) or state["turn"] != player:
            return []
        return [{"cell": cell} for cell, owner in enumerate(state["board"]) if owner is None]

    def result(self, state: dict) -> dict | None:
        if state["winner"] is not None:
            return {"winner": state["winner"], "draw": False}
        if state["draw"]:
            return {"winner": None, "draw": True}
        return None
