"""Pure game rules: one class per game, no Flask, Socket.IO or database (house style rule 7)."""

from app.games.rules.base import ROLES, STUDENT, THERAPIST, GameRules, IllegalMove
from app.games.rules.connect_four import ConnectFour
from app.games.rules.drawing_board import DrawingBoard
from app.games.rules.feelings_cards import FeelingsCards
from app.games.rules.memory_match import MemoryMatch
from app.games.rules.mood_checkin import MoodCheckin
from app.games.rules.tic_tac_toe import TicTacToe

__all__ = [
    "ROLES",
    "STUDENT",
    "THERAPIST",
    "ConnectFour",
    "DrawingBoard",
    "FeelingsCards",
    "GameRules",
    "IllegalMove",
    "MemoryMatch",
    "MoodCheckin",
    "TicTacToe",
]
