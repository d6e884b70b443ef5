"""Fixtures for the fault tests: the live-session and games fixtures, re-exported."""

from tests.integration.games.conftest import game_room  # noqa: F401 - fixtures
from tests.integration.sessions.conftest import live_room, socket_for, student_client  # noqa: F401 - fixtures
