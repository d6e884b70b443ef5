"""Two starts racing for the same running game: one wins, the other gets a clear `stale` refusal,
never a `server_error` (the version check fires at a flush inside start_game, before its commit)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, event, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.games import services
from app.games.models import GameSession
from tests.conftest import DATABASE_URL, need_service

START_A = {"game": "tic_tac_toe", "first_player": "student"}
START_B = {"game": "connect_four", "first_player": "therapist"}


def _when_a_game_is_written(callback):
    """Run `callback` once, at the first flush (in any session) that writes a GameSession."""

    fired = []

    def before_flush(session, _context, _instances):
        if not fired and any(isinstance(o, GameSession) for o in (*session.dirty, *session.new)):
            fired.append(True)
            callback()

    event.listen(Session, "before_flush", before_flush)
    return before_flush


def test_a_start_that_loses_the_race_is_refused_as_stale(game_room, therapist_client, games_socket, database_url):
    room = game_room()
    therapist = games_socket(therapist_client, room)
    assert therapist.emit("start", START_A, namespace="/games", callback=True) == {"ok": True}
    running = services.current_game(room.id)
    table = GameSession.__table__
    other = create_engine(database_url)

    def another_start_commits_first():
        # What a second socket's start does to the running game, committed between this start's
        # read of it and its own write.
        with other.begin() as conn:
            conn.execute(update(table).where(table.c.id == running.id)
                         .values(status="ended", ended_reason="replaced", version=table.c.version + 1))

    listener = _when_a_game_is_written(another_start_commits_first)
    try:
        reply = therapist.emit("start", START_B, namespace="/games", callback=True)
    finally:
        event.remove(Session, "before_flush", listener)
        other.dispose()
    assert reply["ok"] is False and reply["code"] == "stale", reply
    db.session.expire_all()
    assert not db.session.query(GameSession).filter_by(game="connect_four").count()  # nothing half-written
    # The socket is fine: the next start works.
    assert therapist.emit("start", START_B, namespace="/games", callback=True) == {"ok": True}


@pytest.mark.postgres
def test_two_sockets_starting_at_once_get_one_success_and_one_stale(game_room, signed_in, world, games_socket):
    """Two therapist tabs press Start at the same moment (on PostgreSQL, really concurrently):
    both read the running game, both try to replace it; the row's version lets one through."""
    need_service("PostgreSQL", DATABASE_URL.startswith("postgres"))
    room = game_room()
    first, second = (games_socket(signed_in(world.therapist), room) for _ in range(2))
    assert first.emit("start", START_A, namespace="/games", callback=True) == {"ok": True}
    both_read = threading.Barrier(2, timeout=10)

    def before_flush(session, _context, _instances):
        if any(isinstance(o, GameSession) and o.status == "ended" for o in session.dirty):
            try:
                both_read.wait()  # both have loaded the running game and are about to replace it
            except threading.BrokenBarrierError:
                pass

    event.listen(Session, "before_flush", before_flush)
    replies = [None, None]

    def start(i, sock, payload):
        replies[i] = sock.emit("start", payload, namespace="/games", callback=True)

    try:
        threads = [threading.Thread(target=start, args=(0, first, START_B)),
                   threading.Thread(target=start, args=(1, second, START_B))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        event.remove(Session, "before_flush", before_flush)
    codes = sorted("ok" if r and r.get("ok") else (r or {}).get("code") for r in replies)
    assert codes == ["ok", "stale"], replies
    db.session.expire_all()
    assert db.session.query(GameSession).filter(GameSession.room_id == room.id,
                                                GameSession.status != "ended").count() == 1
