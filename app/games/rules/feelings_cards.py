"""Feelings cards: draw a card, talk about the feeling on it."""

from __future__ import annotations

import random
from typing import Any

from app.games.rules.base import GameRules, IllegalMove, check_role, expect_choice, expect_fields

_PROMPTS = {
    "happy": ("Tell about a time you felt really happy.", "What is something that always makes you smile?"),
    "sad": ("Tell about a time you felt sad. What helped?", "What could a friend do when you feel sad?"),
    "worried": ("What is something you sometimes worry about?", "What helps your body feel calmer when you worry?"),
    "angry": ("Tell about a time you felt angry. What did you do?", "What can you do to cool down when you're mad?"),
    "proud": ("Tell about a time you felt proud.", "What is something you worked hard to learn?"),
    "calm": ("Where is a place you feel calm?", "Show a slow breath you can take to feel calm."),
    "excited": ("What is something you're looking forward to?", "Tell about a time you felt super excited."),
    "scared": ("Tell about a time you felt scared. Who helped you?", "What makes you feel safe?"),
    "frustrated": ("Tell about something that felt hard to do.", "What can you tell yourself when things go wrong?"),
    "lonely": ("Tell about a time you felt left out.", "Who could you talk to if you felt lonely?"),
    "surprised": ("Tell about a time something surprised you.", "What is the best surprise you can remember?"),
    "grateful": ("Name someone you're thankful for and why.", "What is a small thing that made today better?"),
    "brave": ("Tell about a time you did something even though it felt scary.", "What helps you feel brave?"),
    "silly": ("What is the silliest thing that makes you laugh?", "Show a silly face and tell what feeling it is!"),
}
CARDS = tuple(
    {"id": f"{feeling}-{number}", "feeling": feeling, "prompt": prompt}
    for feeling, prompts in _PROMPTS.items()
    for number, prompt in enumerate(prompts, start=1)
)
CARDS_BY_ID = {card["id"]: card for card in CARDS}
HISTORY_LIMIT = 200
KINDS = ("draw", "skip")


def _shuffled(ids: list[str], seed: int, round_number: int) -> list[str]:
    rng = random.Random(f"feelings:{seed}:{round_number}")  # noqa: S311 - repeatable order, not security
    ids = list(ids)
    rng.shuffle(ids)
    return ids


class FeelingsCards(GameRules):
    """A deck of feelings cards, each with a gentle conversation prompt, shuffled by seed.

    Either player may, at any time, draw the next card (the current one goes to the discards)
    or skip the current card (discard it and draw the next; only when there is one). When the
    deck runs out, the discards are reshuffled into a new deck (repeatably, from the seed and
    the number of reshuffles); the card just put down waits in the discards for the following
    round, so it never comes straight back. It is not a contest: it never ends, `result` is None.

    State: {"game", "seed", "deck": card ids still to come, next first (secret), "discards",
    "current": card id or None, "history": ids drawn (the last 200), "reshuffles": int}.
    """

    name = "feelings_cards"
    title = "Feelings Cards"
    description = "Take turns drawing a card and talking about the feeling on it."
    cards = CARDS

    def initial_state(self, first_player: str, seed: int) -> dict:
        self._check_start(first_player, seed)
        return {
            "game": self.name,
            "seed": seed,
            "deck": _shuffled([card["id"] for card in CARDS], seed, 0),
            "discards": [],
            "current": None,
            "history": [],
            "reshuffles": 0,
        }

    def validate_move(self, move: Any) -> dict:
        """A move is {"kind": "draw"} or {"kind": "skip"}."""
        move = expect_fields(move, ["kind"])
        return {"kind": expect_choice(move["kind"], KINDS)}

    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Draw (or skip to) the next card; either player, at any time.

        Refused: skip with no card showing ("nothing_to_skip"). Events, in order:
        {"type": "skip", "player", "card_id"} for a skip; {"type": "reshuffle", "count"} when the
        deck is rebuilt; {"type": "card", "player", "card": {"id", "feeling", "prompt"}}.
        """
        new, clean = self._prepare(state, move, player)
        events: list[dict] = []
        current = new["current"]
        if clean["kind"] == "skip":
            if current is None:
                raise IllegalMove("nothing_to_skip", "There's no card to skip yet — draw one first!")
            events.append({"type": "skip", "player": player, "card_id": current})
        if not new["deck"]:
            new["reshuffles"] += 1
            new["deck"] = _shuffled(new["discards"], new["seed"], new["reshuffles"])
            new["discards"] = []
            events.append({"type": "reshuffle", "count": len(new["deck"])})
        if current is not None:
            new["discards"].append(current)
        drawn = new["deck"].pop(0)
        new["current"] = drawn
        new["history"] = (new["history"] + [drawn])[-HISTORY_LIMIT:]
        events.append({"type": "card", "player": player, "card": dict(CARDS_BY_ID[drawn])})
        return new, events

    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """Draw, always; skip too when a card is showing. The same for both players."""
        check_role(player)
        return [{"kind": "draw"}] + ([{"kind": "skip"}] if state["current"] is not None else [])

    def is_over(self, state: dict) -> bool:
        return False

    def view(self, state: dict, player: str) -> dict:
        """The current card, how many are left and the history; never the deck order or seed."""
        check_role(player)
        current = state["current"]
        return {
            "game": state["game"],
            "current": dict(CARDS_BY_ID[current]) if current is not None else None,
            "remaining": len(state["deck"]),
            "discarded": len(state["discards"]),
            "history": list(state["history"]),
        }
