"""Connect four."""

from __future__ import annotations

from typing import Any

from app.games.rules.base import GameRules, IllegalMove, expect_fields, expect_int, other

ROWS = 6
COLUMNS = 7
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))  # across, down, down-right, down-left


def line_through(board: list, row: int, column: int) -> list[list[int]] | None:
    """The longest run of 4+ same discs through (row, column), as [row, column] pairs, or None."""
    player = board[row][column]
    for d_row, d_col in DIRECTIONS:
        run = [[row, column]]
        for sign in (1, -1):
            r, c = row + sign * d_row, column + sign * d_col
            while 0 <= r < ROWS and 0 <= c < COLUMNS and board[r][c] == player:
                run.append([r, c])
                r, c = r + sign * d_row, c + sign * d_col
        if len(run) >= 4:
            return sorted(run)
    return None


class ConnectFour(GameRules):
    """Connect four on a 7-column, 6-row upright grid.

    Players take turns dropping a disc into a column; it falls to the lowest empty row.
    Four (or more) of one player's discs in a line across, up-down or diagonally win; a full
    grid with no line is a draw. The first player plays first; the UI picks the colours.

    State: {"game", "board": 6 rows (row 0 is the top, row 5 the bottom) of 7 cells each None or
    a role, "first_player", "turn" (None once over), "winner", "line": [[row, column], ...] or None,
    "draw": bool}.
    """

    name = "connect_four"
    title = "Connect Four"
    description = "Drop discs into the columns. Four in a row — across, up-down or slanted — wins!"

    def initial_state(self, first_player: str, seed: int) -> dict:
        first = self._check_start(first_player, seed)
        return {
            "game": self.name,
            "board": [[None] * COLUMNS for _ in range(ROWS)],
            "first_player": first,
            "turn": first,
            "winner": None,
            "line": None,
            "draw": False,
        }

    def validate_move(self, move: Any) -> dict:
        """A move is {"column": n} with n an int from 0 (left) to 6 (right)."""
        move = expect_fields(move, ["column"])
        return {"column": expect_int(move["column"], 0, COLUMNS - 1, "Pick a column on the board.")}

    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Drop `player`'s disc into a column that is not full, on their turn.

        Refused: game over ("game_over"), not their turn ("not_your_turn"), column full
        ("column_full"). Events: {"type": "move", "player", "column", "row"}, then
        {"type": "win", "winner", "line": [[row, column], ...]}, {"type": "draw"} or
        {"type": "turn", "player"}.
        """
        new, clean = self._prepare(state, move, player)
        self._require_turn(new, player)
        column = clean["column"]
        board = new["board"]
        empty_rows = [row for row in range(ROWS) if board[row][column] is None]
        if not empty_rows:
            raise IllegalMove("column_full", "That column is full — try another one!")
        row = empty_rows[-1]
        board[row][column] = player
        events = [{"type": "move", "player": player, "column": column, "row": row}]
        line = line_through(board, row, column)
        if line is not None:
            new.update(winner=player, line=line, turn=None)
            events.append({"type": "win", "winner": player, "line": line})
        elif all(cell is not None for cell in board[0]):
            new.update(draw=True, turn=None)
            events.append({"type": "draw"})
        else:
            new["turn"] = other(player)
            events.append({"type": "turn", "player": new["turn"]})
        return new, events

    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """Every column that is not full, for the player whose turn it is; nobody else may move."""
        if self.is_over(state) or state["turn"] != player:
            return []
        return [{"column": column} for column in range(COLUMNS) if state["board"][0][column] is None]

    def result(self, state: dict) -> dict | None:
        if state["winner"] is not None:
            return {"winner": state["winner"], "draw": False}
        if state["draw"]:
            return {"winner": None, "draw": True}
        return None
