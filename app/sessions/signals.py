"""Signals other domains subscribe to. Arrows point one way: games -> sessions, never back."""

from blinker import Namespace

_signals = Namespace()

#: Sent after a room has ended (committed). sender: the LiveRoom. kwargs: room_id (int),
#: district_id (int), reason (str: "therapist_ended" | "consent_revoked" | "no_consent" |
#: "deactivated" | "closed"),
#: at (aware UTC datetime).
room_ended = _signals.signal("room-ended")
