"""Every game by name. Adding a game is one file in rules/ and one line in `_GAME_CLASSES`."""

from __future__ import annotations

from app.games.rules import ConnectFour, DrawingBoard, FeelingsCards, GameRules, MemoryMatch, MoodCheckin, TicTacToe

_GAME_CLASSES: tuple[type[GameRules], ...] = (
    TicTacToe,
    ConnectFour,
    MemoryMatch,
    DrawingBoard,
    FeelingsCards,
    MoodCheckin,
)

GAMES: dict[str, GameRules] = {cls.name: cls() for cls in _GAME_CLASSES}
assert len(GAMES) == len(_GAME_CLASSES), "two games share a name"


def get_game(name: str) -> GameRules:
    """The rules for `name`; KeyError for anything that is not a game's name."""
    if not isinstance(name, str) or name not in GAMES:
        raise KeyError(f"no game named {name!r}")
    return GAMES[name]


def game_choices() -> list[tuple[str, str]]:
    """(name, title) pairs in menu order, for forms and pickers."""
    return [(name, game.title) for name, game in GAMES.items()]
