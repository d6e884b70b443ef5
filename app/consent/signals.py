"""Signals other domains subscribe to. Arrows point one way: sessions -> consent, never back."""

from blinker import Namespace

_signals = Namespace()

#: Sent after a revocation has committed.
#: sender: the ConsentRequest. kwargs: student_id (int), district_id (int), scopes (list[str],
#: the scopes that stopped being granted), revoked_by (User), at (aware UTC datetime).
consent_revoked = _signals.signal("consent-revoked")
