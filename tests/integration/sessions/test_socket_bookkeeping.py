"""What a room socket keeps, in the database and in memory, from its connect to its disconnect:
its RoomSocket row (written in one INSERT, without reading the room again), its rate-limit buckets
(per socket and event, dropped with the socket), and what a row left behind by a killed server
process does (nothing: connects and ending the room work around it)."""

from __future__ import annotations

from sqlalchemy import event, insert

from app.db_types import utcnow
from app.extensions import db, socketio
from app.sessions.models import RoomSocket
from tests.conftest import login

CHAT = {"text": "hi"}


def _handler(namespace="/call"):
    return socketio.server.namespace_handlers[namespace]


def _sid_of(room, kind, actor_id, namespace="/call") -> str:
    db.session.expire_all()
    return db.session.query(RoomSocket.sid).filter_by(room_id=room.id, namespace=namespace, actor_kind=kind,
                                                      actor_id=actor_id).one()[0]


class _Statements:
    def __init__(self):
        self.seen: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, params, context, executemany):
        self.seen.append(" ".join(statement.split()))


def test_therapist_connect_writes_one_socket_row_and_reads_the_room_once(app, world, client, live_room, socket_for):
    room = live_room()
    login(client, world.therapist)
    auth = {"room": room.id}  # read here: the test's own room object is expired
    with _Statements() as seen:
        sock = socket_for(client, room, auth=auth)
    assert sock.is_connected("/call")
    rows = db.session.query(RoomSocket).filter_by(room_id=room.id).all()
    assert [(r.namespace, r.actor_kind, r.actor_id) for r in rows] == [("/call", "user", world.therapist.id)]
    assert rows[0].connected_at is not None
    room_reads = [s for s in seen if s.startswith("SELECT") and "FROM live_rooms" in s.split(" WHERE")[0]]
    assert len(room_reads) == 1, room_reads  # not again after the commit
    assert sum(1 for s in seen if s.startswith("INSERT INTO live_room_sockets")) == 1


def test_student_connect_writes_its_grant_row(app, world, live_room, student_client, socket_for):
    room = live_room()
    sock = socket_for(student_client(room), room, namespace="/waiting")
    assert sock.is_connected("/waiting")
    row = db.session.query(RoomSocket).filter_by(room_id=room.id, namespace="/waiting").one()
    assert row.actor_kind == "grant" and row.actor_id > 0


def test_refused_connect_writes_no_row_and_keeps_nothing(app, world, client, live_room, socket_for):
    room = live_room()
    login(client, world.guardian)
    sock = socket_for(client, room)
    assert not sock.is_connected("/call")
    assert db.session.query(RoomSocket).filter_by(room_id=room.id).count() == 0
    assert not _handler()._sids


def test_rate_limit_buckets_are_per_socket_and_event_and_go_with_the_socket(app, world, client, live_room,
                                                                           student_client, socket_for):
    room = live_room()
    login(client, world.therapist)
    therapist = socket_for(client, room)
    student = socket_for(student_client(room), room)
    handler = _handler()
    replies = [student.emit("chat", CHAT, namespace="/call", callback=True) for _ in range(8)]
    assert replies[0] == {"ok": True} and replies[-1]["code"] == "rate_limited"
    # The student's other events and the therapist's chat have their own buckets.
    assert student.emit("media_state", {"muted": True, "camera_off": False}, namespace="/call",
                        callback=True) == {"ok": True}
    assert therapist.emit("chat", CHAT, namespace="/call", callback=True) == {"ok": True}

    student_sid = _sid_of(room, "grant", db.session.query(RoomSocket.actor_id).filter_by(
        room_id=room.id, actor_kind="grant").scalar())
    therapist_sid = _sid_of(room, "user", world.therapist.id)
    assert set(handler._buckets[student_sid]) == {"chat", "media_state"}
    assert student_sid in handler._strikes  # the refused chats counted as strikes

    student.disconnect("/call")
    assert student_sid not in handler._buckets and student_sid not in handler._strikes
    assert student_sid not in handler._sids
    assert set(handler._buckets[therapist_sid]) == {"chat"}
    # The therapist's bucket was not reset by the student leaving: still one chat fewer than the burst.
    assert handler._buckets[therapist_sid]["chat"].tokens < 5


def test_a_row_left_by_a_killed_server_does_not_stop_a_reconnect_or_the_end_of_the_room(
        app, world, client, live_room, student_client, socket_for):
    room = live_room()
    # A server process killed with this therapist's socket open leaves its row behind (no disconnect
    # handler ran); its sid is unknown to every living process.
    db.session.execute(insert(RoomSocket.__table__).values(
        room_id=room.id, namespace="/call", sid="gone-with-a-killed-server", actor_kind="user",
        actor_id=world.therapist.id, connected_at=utcnow()))
    db.session.commit()
    login(client, world.therapist)
    therapist = socket_for(client, room)
    assert therapist.is_connected("/call")  # "replacing" the dead socket did not fail the connect
    student = socket_for(student_client(room), room)
    assert student.is_connected("/call")

    therapist.emit("end", None, namespace="/call")
    assert not therapist.is_connected("/call") and not student.is_connected("/call")
    db.session.expire_all()
    assert db.session.query(RoomSocket).filter_by(room_id=room.id).count() == 0  # the stale row too
