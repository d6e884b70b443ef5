"""Memory match (pairs)."""

from __future__ import annotations

import random
from typing import Any

from app.games.rules.base import GameRules, IllegalMove, check_role, expect_fields, expect_int, other

PAIRS = 8
CARD_COUNT = 2 * PAIRS

# Plain ASCII keys live in the state; the UI shows the emoji and reads out the label.
PICTURES = {
    "sun": {"emoji": "☀️", "label": "Sun"},
    "moon": {"emoji": "🌙", "label": "Moon"},
    "star": {"emoji": "⭐", "label": "Star"},
    "cat": {"emoji": "🐱", "label": "Cat"},
    "dog": {"emoji": "🐶", "label": "Dog"},
    "fish": {"emoji": "🐟", "label": "Fish"},
    "tree": {"emoji": "🌳", "label": "Tree"},
    "flower": {"emoji": "🌼", "label": "Flower"},
    "apple": {"emoji": "🍎", "label": "Apple"},
    "boat": {"emoji": "⛵", "label": "Boat"},
    "rainbow": {"emoji": "🌈", "label": "Rainbow"},
    "balloon": {"emoji": "🎈", "label": "Balloon"},
}


class MemoryMatch(GameRules):
    """Memory: find the pairs among 16 face-down cards (8 pictures, chosen and shuffled by seed).

    A move flips one face-down card. A turn is two flips by the player whose turn it is:
    - a match: both cards stay face up for good, the player scores a pair and goes again;
    - a miss: the turn passes to the other player at once, but both cards stay face up so
      everyone can see them. The next flip (by the other player) first turns those two face
      down again and then flips the chosen card, which may be one of the two.
    When all pairs are found the game ends: more pairs wins, equal pairs is a draw.

    State: {"game", "cards": 16 picture keys (secret), "owner": 16 x (None or the role that
    matched it), "revealed": indices face up but not matched (0, 1, or 2 after a miss),
    "turn" (None once over), "scores": role -> pairs}. `view` hides the faces of face-down cards.
    """

    name = "memory_match"
    title = "Memory Match"
    description = "Flip two cards at a time to find the matching pictures. Most pairs wins!"
    pictures = PICTURES

    def initial_state(self, first_player: str, seed: int) -> dict:
        first = self._check_start(first_player, seed)
        rng = random.Random(seed)  # noqa: S311 - repeatable game layout, not security
        chosen = rng.sample(sorted(PICTURES), PAIRS)
        cards = chosen * 2
        rng.shuffle(cards)
        return {
            "game": self.name,
            "cards": cards,
            "owner": [None] * CARD_COUNT,
            "revealed": [],
            "turn": first,
            "scores": {first: 0, other(first): 0},
        }

    def validate_move(self, move: Any) -> dict:
        """A move is {"card": n} with n an int from 0 to 15 (the card's position on the table)."""
        move = expect_fields(move, ["card"])
        return {"card": expect_int(move["card"], 0, CARD_COUNT - 1, "Pick one of the cards.")}

    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Flip one card, on `player`'s turn (see the class docstring for a whole turn).

        Refused: game over ("game_over"), not their turn ("not_your_turn"), a matched card or
        the card they just flipped ("card_taken"). Events, in order: {"type": "hide", "cards":
        [a, b]} when a missed pair turns back over; {"type": "flip", "player", "card", "picture"};
        after a second flip {"type": "match", "player", "cards", "picture"} or {"type": "miss",
        "player", "cards"}; then {"type": "turn", "player"}, or at the end {"type": "win",
        "winner", "scores"} or {"type": "draw", "scores"}.
        """
        new, clean = self._prepare(state, move, player)
        self._require_turn(new, player)
        card = clean["card"]
        revealed, owner = new["revealed"], new["owner"]
        if owner[card] is not None:
            raise IllegalMove("card_taken", "That pair is already found — pick a face-down card!")
        if len(revealed) == 1 and revealed[0] == card:
            raise IllegalMove("card_taken", "You just flipped that card — pick a different one!")
        events: list[dict] = []
        if len(revealed) == 2:
            events.append({"type": "hide", "cards": list(revealed)})
            revealed.clear()
        revealed.append(card)
        events.append({"type": "flip", "player": player, "card": card, "picture": new["cards"][card]})
        if len(revealed) == 2:
            first, second = revealed
            if new["cards"][first] == new["cards"][second]:
                owner[first] = owner[second] = player
                new["scores"][player] += 1
                revealed.clear()
                events.append(
                    {"type": "match", "player": player, "cards": [first, second], "picture": new["cards"][first]}
                )
            else:
                new["turn"] = other(player)
                events.append({"type": "miss", "player": player, "cards": [first, second]})
        result = self.result(new)
        if result is None:
            events.append({"type": "turn", "player": new["turn"]})
        else:
            new["turn"] = None
            scores = dict(new["scores"])
            if result["draw"]:
                events.append({"type": "draw", "scores": scores})
            else:
                events.append({"type": "win", "winner": result["winner"], "scores": scores})
        return new, events

    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """Every unmatched card except one just flipped this turn, for the player whose turn it is."""
        if self.is_over(state) or state["turn"] != player:
            return []
        just_flipped = state["revealed"] if len(state["revealed"]) == 1 else []
        return [
            {"card": card} for card in range(CARD_COUNT) if state["owner"][card] is None and card not in just_flipped
        ]

    def result(self, state: dict) -> dict | None:
        """None until every pair is found; then the player with more pairs wins, or a draw."""
        if any(owner is None for owner in state["owner"]):
            return None
        (first, first_score), (second, second_score) = state["scores"].items()
        if first_score == second_score:
            return {"winner": None, "draw": True}
        return {"winner": first if first_score > second_score else second, "draw": False}

    def view(self, state: dict, player: str) -> dict:
        """Everything but the faces of face-down cards: those show as None."""
        check_role(player)
        face_up = set(state["revealed"]) | {i for i, owner in enumerate(state["owner"]) if owner is not None}
        return {
            "game": state["game"],
            "cards": [picture if i in face_up else None for i, picture in enumerate(state["cards"])],
            "owner": list(state["owner"]),
            "revealed": list(state["revealed"]),
            "turn": state["turn"],
            "scores": dict(state["scores"]),
        }
