"""Mood check-in at the start and end of a session."""

from __future__ import annotations

from typing import Any

from app.games.rules.base import STUDENT, GameRules, IllegalMove, expect_choice, expect_fields, expect_int

FACES = (
    {"value": 1, "key": "very_sad", "label": "Very sad", "emoji": "😢"},
    {"value": 2, "key": "sad", "label": "A little sad", "emoji": "🙁"},
    {"value": 3, "key": "okay", "label": "Okay", "emoji": "😐"},
    {"value": 4, "key": "happy", "label": "Happy", "emoji": "🙂"},
    {"value": 5, "key": "very_happy", "label": "Very happy", "emoji": "😄"},
)
FACES_BY_VALUE = {face["value"]: face for face in FACES}
PHASES = ("start", "end")


class MoodCheckin(GameRules):
    """The student picks one of five faces for how they feel, once at the start of the session
    and once at the end. Only the student picks; the therapist watches. Each phase is picked
    once, and "end" only after "start". It is not a competition, so `result` is always None;
    the check-in is over (no more moves) once both are picked. `moods` reads the answers.

    State: {"game", "start": 1..5 or None, "end": 1..5 or None}.
    """

    name = "mood_checkin"
    title = "Mood Check-in"
    description = "Pick the face that shows how you feel right now."
    over_message = "You've done both check-ins — thank you for sharing!"
    faces = FACES

    def initial_state(self, first_player: str, seed: int) -> dict:
        self._check_start(first_player, seed)
        return {"game": self.name, "start": None, "end": None}

    def validate_move(self, move: Any) -> dict:
        """A move is {"phase": "start" or "end", "mood": int 1..5} (1 very sad ... 5 very happy)."""
        move = expect_fields(move, ["phase", "mood"])
        return {
            "phase": expect_choice(move["phase"], PHASES),
            "mood": expect_int(move["mood"], 1, 5, "Pick one of the faces."),
        }

    def apply(self, state: dict, move: Any, player: str) -> tuple[dict, list[dict]]:
        """Record the student's mood for a phase.

        Refused: both phases done ("game_over"), the therapist picking ("not_allowed"), a phase
        already picked ("already_chosen"), "end" before "start" ("not_yet"). Events:
        {"type": "mood", "player", "phase", "mood", "key", "label"}, then {"type": "complete",
        "start", "end"} once both are in.
        """
        new, clean = self._prepare(state, move, player)
        if player != STUDENT:
            raise IllegalMove("not_allowed", "Only the student picks a mood here.")
        phase, mood = clean["phase"], clean["mood"]
        if new[phase] is not None:
            raise IllegalMove("already_chosen", f"You already picked a face for the {phase} — thank you!")
        if phase == "end" and new["start"] is None:
            raise IllegalMove("not_yet", "Let's pick a face for the start first.")
        new[phase] = mood
        face = FACES_BY_VALUE[mood]
        events = [
            {"type": "mood", "player": player, "phase": phase, "mood": mood, "key": face["key"], "label": face["label"]}
        ]
        if self.is_over(new):
            events.append({"type": "complete", **self.moods(new)})
        return new, events

    def legal_moves(self, state: dict, player: str) -> list[dict]:
        """For the student, the five faces for the next phase still open; the therapist has none."""
        if player != STUDENT or self.is_over(state):
            return []
        phase = "start" if state["start"] is None else "end"
        return [{"phase": phase, "mood": face["value"]} for face in FACES]

    def is_over(self, state: dict) -> bool:
        return state["start"] is not None and state["end"] is not None

    @staticmethod
    def moods(state: dict) -> dict:
        """{"start": 1..5 or None, "end": 1..5 or None}."""
        return {"start": state["start"], "end": state["end"]}
