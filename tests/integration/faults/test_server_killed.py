"""A server process killed (SIGKILL) in the middle of a game: both players' sockets reconnect by
themselves (as socket.io-client does in the browser: backoff with jitter) to the restarted
server on the same address, get the board as it was saved, and the next move is accepted."""

from __future__ import annotations

import signal
import time

import pytest

from app.extensions import db
from tests.integration.faults.helpers import Player, board, join_and_get_admitted, sign_in
from tests.support.servers import free_port, start_server


@pytest.mark.slow
def test_players_reconnect_to_a_restarted_server_and_the_game_resumes_from_saved_state(
        app, world, game_room, database_url, tmp_path):
    room = game_room(live=False)
    room_id, code, email = room.id, room.join_code, world.therapist.email
    db.session.remove()
    port = free_port()
    server = start_server("eventlet", database_url, tmp_path / "first", port=port)
    players: list[Player] = []
    try:
        therapist_http = sign_in(server.base_url, email)
        student_http = join_and_get_admitted(server.base_url, room_id, code)
        therapist = Player(server.base_url, therapist_http, room_id, reconnection=True)
        student = Player(server.base_url, student_http, room_id, reconnection=True)
        players = [therapist, student]

        therapist.client.emit("start", {"game": "tic_tac_toe", "first_player": "student"}, namespace="/games")
        started = student.wait_for(lambda g: g.get("game") == "tic_tac_toe")
        assert student.move(started["version"], "fault-move-1", 4)["ok"] is True
        seen = therapist.wait_for(lambda g: board(g)[4] == "student")
        saved_version, saved_board = seen["version"], board(seen)

        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        killed_at = time.monotonic()
        assert therapist.gone.wait(10) and student.gone.wait(10), "the sockets did not notice the dead server"
        marks = {p: len(p.games) for p in players}

        server = start_server("eventlet", database_url, tmp_path / "second", port=port)
        for player in players:
            assert player.wait_until(lambda p=player: p.connects >= 2, 30), "a player did not reconnect"
        back_after = time.monotonic() - killed_at

        # On connect the server sends each player the saved game: the board as it was.
        restored = {p: p.wait_for(lambda g: g.get("game") == "tic_tac_toe", since=marks[p]) for p in players}
        for payload in restored.values():
            assert payload["version"] == saved_version
            assert board(payload) == saved_board
            assert payload["status"] == "active"
            assert payload["state"]["turn"] == "therapist"

        # The next move is accepted and reaches the other player.
        answer = therapist.move(saved_version, "fault-move-2", 0)
        assert answer["ok"] is True and answer["version"] == saved_version + 1
        after = student.wait_for(lambda g: board(g)[0] == "therapist", since=marks[student])
        assert board(after)[4] == "student"
        print(f"players back {back_after:.1f} s after the SIGKILL (the new server took part of that to start)")
    finally:
        for player in players:
            player.close()
        server.stop()
