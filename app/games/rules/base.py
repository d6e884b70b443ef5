"""The contract every game follows, and the small checks the games share.

A game is a plain class with no Flask, Socket.IO or database in sight: the socket layer
(`games/events.py`) turns events into `apply` calls, saves the returned state and emits the
returned events. State is a JSON-serialisable dict (lists, never tuples) so it can be saved
and sent as it is. Moves arrive from browsers, so `validate_move` treats them as hostile:
any JSON value at all may turn up, and every size is bounded before anything is iterated.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Iterable
from typing import Any, ClassVar

THERAPIST = "therapist"
STUDENT = "student"
ROLES = (THERAPIST, STUDENT)

MALFORMED_MESSAGE = "Hmm, that move didn't make sense. Please try again."


class IllegalMove(Exception):
    """A move the rules refuse.

    `code` is a short snake_case reason for programs (the socket layer sends it in its `error`
    event); `message` is a friendly sentence that a child or a therapist can read.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # both in args, so the error pickles and unpickles intact
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"IllegalMove({self.code!r}, {self.message!r})"


def other(player: str) -> str:
    """The other role: therapist <-> student."""
    return STUDENT if player == THERAPIST else THERAPIST


def malformed(message: str = MALFORMED_MESSAGE) -> IllegalMove:
    return IllegalMove("malformed", message)


def expect_fields(move: Any, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
    """`move` must be a dict whose keys are exactly `required` plus any of `optional`."""
    required, allowed = set(required), set(required) | set(optional)
    if not isinstance(move, dict) or len(move) > len(allowed):
        raise malformed()
    keys = set(move)  # JSON keys are strings; anything else simply fails the subset test
    if not required <= keys or not keys <= allowed:
        raise malformed()
    return move


def expect_int(value: Any, low: int, high: int, message: str = MALFORMED_MESSAGE) -> int:
    """An int (never a bool, which is a subclass of int) with low <= value <= high."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise malformed(message)
    return value


def expect_choice(value: Any, choices: Iterable[str], message: str = MALFORMED_MESSAGE) -> str:
    """A string that is one of `choices` (checked as a string first, so lists cannot slip in)."""
    if not isinstance(value, str) or value not in choices:
        raise malformed(message)
    return value


class GameRules(abc.ABC):
    """One game's rules. Subclasses set `name`, `title`, `description` and implement the rest.

    Players are always the two roles "therapist" and "student". Every method is pure:
    inputs are never mutated, and the same inputs always give the same outputs (shuffles use
    `random.Random(seed)`, never the global generator).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    over_message: ClassVar[str] = "This game is over — start a new one to play again!"

    @abc.abstractmethod
    def initial_state(self, first_player: str, seed: int) -> dict:
        """A new game. `first_player` is a role; `seed` makes any shuffling repeatable.

        Both are always checked (ValueError if wrong); games without turns or shuffling ignore them.
        """

    @abc.abstractmethod
    def validate_move(self, move: Any) -> dict:
        """Return a clean copy of an untrusted move, or raise IllegalMove("malformed", ...)."""

    @abc.abstractmethod
    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Return (new state, events) for `player` making `move`; raise IllegalMove if illegal."""

    @abc.abstractmethod
    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """The moves `player` may make now."""

    def result(self, state: dict) -> dict | None:
        """None while playing, else {"winner": role or None, "draw": bool}."""
        return None

    def is_over(self, state: dict) -> bool:
        """True once no more moves are accepted. By default: once there is a result."""
        return self.result(state) is not None

    def view(self, state: dict, player: str) -> dict:
        """What `player` may see. By default everything: games with secrets override this."""
        check_role(player)
        return copy.deepcopy(state)

    # --- helpers for subclasses -------------------------------------------------------------

    def _check_start(self, first_player: Any, seed: Any) -> str:
        if first_player not in ROLES:
            raise ValueError(f"first_player must be one of {ROLES}, not {first_player!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, not {seed!r}")
        return first_player

    def _copy_state(self, state: dict) -> dict:
        return copy.deepcopy(state)

    def _prepare(self, state: dict, move: Any, player: str) -> tuple[dict, dict]:
        """The checks every `apply` starts with; returns (a private copy of state, clean move)."""
        check_role(player)
        clean = self.validate_move(move)
        if self.is_over(state):
            raise IllegalMove("game_over", self.over_message)
        return self._copy_state(state), clean

    @staticmethod
    def _require_turn(state: dict, player: str) -> None:
        if state.get("turn") != player:
            raise IllegalMove("not_your_turn", "It's the other player's turn.")


def check_role(player: Any) -> str:
    if player not in ROLES:
        raise IllegalMove("not_allowed", "Only the therapist and the student can play.")
    return player
