import pytest

from app.games.registry import GAMES, game_choices, get_game
from app.games.rules import GameRules


def test_every_game_is_registered_under_its_own_name():
    assert set(GAMES) == {
        "tic_tac_toe",
        "connect_four",
        "memory_match",
        "drawing_board",
        "feelings_cards",
        "mood_checkin",
    }
    for name, game in GAMES.items():
        assert isinstance(game, GameRules) and game.name == name
        assert get_game(name) is game


@pytest.mark.parametrize("name", ["chess", "", "TIC_TAC_TOE", None, 1, ["tic_tac_toe"]])
def test_an_unknown_game_is_a_key_error(name):
    with pytest.raises(KeyError):
        get_game(name)


def test_game_choices_pairs_names_with_titles():
    choices = game_choices()
    assert choices[0] == ("tic_tac_toe", "Tic-Tac-Toe")
    assert [name for name, _ in choices] == list(GAMES)
    assert all(isinstance(title, str) and title for _, title in choices)
