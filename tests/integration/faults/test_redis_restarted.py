"""Redis restarted under two server processes: cross-process delivery resumes by itself.

Our own redis-server on a free port (the machine's shared one is never restarted). The therapist's
/games socket is on process A, the student's on B, both processes share the Redis message queue.
A move crosses; Redis is stopped and started again (every subscription dropped); each process's
listener re-subscribes by itself (python-socketio retries after 1 s, then 2, 4 … s), and the next
move crosses again. Pub/sub is fire-and-forget: what is published while a process is not
subscribed is not delivered to it, so the test waits (bounded) for both processes to be subscribed
again and reports how long that took.
"""

from __future__ import annotations

import time

import pytest

from app.extensions import db
from tests.conftest import IN_CI
from tests.integration.faults.helpers import Player, board, join_and_get_admitted, sign_in
from tests.support.redis_server import redis_server, redis_server_available
from tests.support.servers import running_server

CHANNEL = "homeroom-socketio"


def _wait(condition, timeout: float) -> float | None:
    """Seconds until `condition()` held, or None if it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


@pytest.mark.slow
@pytest.mark.redis
def test_a_move_crosses_processes_again_after_redis_restarts(app, world, game_room, database_url, tmp_path):
    if not redis_server_available():
        reason = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(f"{reason}; CI must run this test")
        pytest.skip(reason)
    room = game_room(live=False)
    room_id, code, email = room.id, room.join_code, world.therapist.email
    db.session.remove()
    with redis_server() as redis:
        env = {"REDIS_URL": redis.url}
        with running_server("eventlet", database_url, tmp_path / "a", extra_env=env) as server_a, \
                running_server("eventlet", database_url, tmp_path / "b", extra_env=env) as server_b:
            therapist_http = sign_in(server_a.base_url, email)
            student_http = join_and_get_admitted(server_b.base_url, room_id, code)  # the room is live now
            therapist = Player(server_a.base_url, therapist_http, room_id)
            student = Player(server_b.base_url, student_http, room_id)
            try:
                # A process subscribes when its first socket connects (python-socketio starts the
                # queue's listener then).
                assert _wait(lambda: redis.subscribers(CHANNEL) == 2, 10) is not None, "not subscribed"
                therapist.client.emit("start", {"game": "tic_tac_toe", "first_player": "student"},
                                      namespace="/games")
                started = student.wait_for(lambda g: g.get("game") == "tic_tac_toe")
                assert student.move(started["version"], "redis-move-1", 4)["ok"] is True
                therapist.wait_for(lambda g: board(g)[4] == "student")  # crossed B -> A

                redis.restart()
                assert redis.subscribers(CHANNEL) == 0  # a new Redis: nobody is subscribed
                resubscribed = _wait(lambda: redis.subscribers(CHANNEL) == 2, 20)
                assert resubscribed is not None, (
                    f"the processes did not subscribe again within 20 s\nA:\n{server_a.log()}\nB:\n{server_b.log()}")

                mark = len(student.games)
                sent = time.monotonic()
                answer = therapist.move(started["version"] + 1, "redis-move-2", 0)
                assert answer["ok"] is True
                after = student.wait_for(lambda g: board(g)[0] == "therapist", 5, since=mark)  # crossed A -> B
                crossed_ms = (time.monotonic() - sent) * 1000
                assert board(after)[4] == "student"

                mark = len(therapist.games)
                assert student.move(after["version"], "redis-move-3", 8)["ok"] is True
                therapist.wait_for(lambda g: board(g)[8] == "student", 5, since=mark)  # and B -> A again
                assert therapist.client.connected and student.client.connected  # no socket was dropped
                print(f"both processes subscribed again {resubscribed:.1f} s after Redis answered; "
                      f"the next move crossed in {crossed_ms:.0f} ms")
            finally:
                therapist.close()
                student.close()
