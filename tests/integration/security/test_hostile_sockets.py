"""Hostile Socket.IO input: every event of every namespace, sent by someone allowed to use it,
with Hypothesis-generated payloads (wrong JSON types, missing and extra keys, huge strings and
lists, deep nesting, NaN and Infinity, lone surrogates, NUL, RTL marks, emoji ZWJ sequences,
binary attachments, non-object top-level values), plus raw frames that are not even JSON.

Each must be answered with a refusal (an `error` event and a `{"ok": false}` ack) or ignored:
never an exception in a handler (no `server_error`, no traceback logged), the socket still
usable, and not one row of the database changed.

The namespaces and their events are read from the running app (`EVENTS`), so an event added
later is covered without touching this file; a namespace added later fails
`test_every_namespace_has_a_hostile_actor` until it is given an actor here.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from pathlib import Path

import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from app.extensions import socketio
from tests.conftest import login
from tests.integration.games.conftest import game_room, games_socket, signed_in, therapist_client  # noqa: F401
from tests.integration.security.hostile_data import (
    HOSTILE_SETTINGS,
    diff,
    hostile_payloads,
    json_values,
    nasty_text,
    snapshot,
)
from tests.integration.sessions.conftest import live_room, run_isolated, socket_for, student_client  # noqa: F401

APP_DIR = Path(__file__).resolve().parents[3] / "app"


# --- who may use each namespace --------------------------------------------------------------------


def _waiting(request):
    """A student who has joined and said they are ready, waiting to be let in."""
    room = request.getfixturevalue("live_room")()
    student = request.getfixturevalue("student_client")(room, admitted=False)
    return request.getfixturevalue("socket_for")(student, room, namespace="/waiting"), room


def _call(request):
    """The room's therapist, who may send every /call event."""
    room = request.getfixturevalue("live_room")()
    client = request.getfixturevalue("app").test_client()
    login(client, request.getfixturevalue("world").therapist)
    return request.getfixturevalue("socket_for")(client, room), room


def _games(request):
    """The therapist of a live room with a game running (so moves reach the rules)."""
    room = request.getfixturevalue("game_room")()
    sock = request.getfixturevalue("games_socket")(request.getfixturevalue("therapist_client"), room)
    ack = sock.emit("start", {"game": "tic_tac_toe", "first_player": "student"}, namespace="/games", callback=True)
    assert ack == {"ok": True}, ack
    return sock, room


#: namespace -> (connect an actor allowed to use it, an event that must still work afterwards)
ACTORS = {
    "/waiting": (_waiting, "hello"),
    "/call": (_call, "ice_servers"),
    "/games": (_games, "sync"),
}


def _namespaces(app) -> dict:
    return {name: handler for name, handler in socketio.server.namespace_handlers.items() if name != "/"}


def test_every_namespace_has_a_hostile_actor(app):
    assert set(_namespaces(app)) == set(ACTORS), "give every namespace an actor in ACTORS"
    for name, handler in _namespaces(app).items():
        assert handler.EVENTS, f"{name} declares no EVENTS"


# --- helpers ---------------------------------------------------------------------------------------




def _problems_logged(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def _server_errors(sock, namespace) -> list:
    return [m for m in sock.events(namespace)
            if m["name"] == "error" and m["args"] and isinstance(m["args"][0], dict)
            and m["args"][0].get("code") == "server_error"]


def _emit(sock, namespace, event, *args):
    """Send one event; returns (ack, refused_by_library). The Socket.IO library itself refuses some
    frames while decoding them (e.g. integers over 100 digits): it raises before any of our code
    runs, and in a server Engine.IO logs that and drops the frame. An exception raised from our
    code is re-raised."""
    try:
        return sock.emit(event, *args, namespace=namespace, callback=True), False
    except Exception as exc:
        if (problem := _library_or_clean(exc)) is not None:
            raise AssertionError(problem) from exc
        sock.acks = None
        return None, True


def _still_usable(sock, handler, namespace, event):
    handler._buckets.clear()
    assert sock.is_connected(namespace), "the socket was dropped"
    ack = sock.emit(event, None, namespace=namespace, callback=True)
    assert isinstance(ack, dict) and ack.get("ok") is True, f"{event} no longer works: {ack}"
    sock.events(namespace)


@pytest.fixture
def hostile_socket(request, app, world):
    def connect(namespace):
        make, sanity = ACTORS[namespace]
        sock, room = make(request)
        assert sock.is_connected(namespace), f"the {namespace} actor could not connect"
        sock.events(namespace)
        sock.room_id = room.id
        return sock, _namespaces(app)[namespace], sanity

    return connect


# --- every event, hostile payloads -----------------------------------------------------------------


def _refuses_hostile_payloads(sock, handler, namespace, event, spec, caplog):
    payload = hostile_payloads(spec.schema)
    arguments = st.one_of(st.tuples(payload), st.tuples(payload, json_values), st.just(()))

    @HOSTILE_SETTINGS
    @given(args=arguments)
    def refused(args):
        first = args[0] if args else None
        assume(not spec.validator.is_valid(first))  # hostile means: not what the schema allows
        note(f"{namespace} {event}: {str(args)[:300]}")
        handler._buckets.clear()  # the rate limit is tested elsewhere; here every message is read
        caplog.clear()
        before = snapshot()
        ack, refused_by_library = _emit(sock, namespace, event, *args)
        if not refused_by_library:
            assert isinstance(ack, dict) and ack.get("ok") is False and ack.get("code") == "invalid", ack
            received = sock.events(namespace)
            assert [m["name"] for m in received] == ["error"], received
            assert received[0]["args"][0]["code"] == "invalid"
        assert sock.is_connected(namespace)
        assert not _problems_logged(caplog), _problems_logged(caplog)
        assert not diff(before, snapshot()), diff(before, snapshot())

    refused()


@pytest.mark.parametrize("namespace", sorted(ACTORS))
def test_every_event_refuses_hostile_payloads_and_writes_nothing(app, world, hostile_socket, caplog, namespace):
    sock, handler, sanity = hostile_socket(namespace)
    caplog.set_level(logging.INFO)
    for event, spec in sorted(handler.EVENTS.items()):
        _refuses_hostile_payloads(sock, handler, namespace, event, spec, caplog)
        _still_usable(sock, handler, namespace, sanity)


@pytest.mark.parametrize("namespace", sorted(ACTORS))
def test_unknown_and_reserved_event_names_are_refused(app, world, hostile_socket, caplog, namespace):
    """Names no handler declares, including the lifecycle names a client must not trigger."""
    sock, handler, sanity = hostile_socket(namespace)
    caplog.set_level(logging.INFO)
    names = st.one_of(
        st.sampled_from(["connect", "disconnect", "connect_error", "message", "error", "__init__", "on_connect",
                         "_guarded", "trigger_event", "authorize_connect", "*", "", "sync\x00", "SYNC"]),
        nasty_text,
    )

    @HOSTILE_SETTINGS
    @given(name=names, args=st.lists(json_values, max_size=2))
    def refused(name, args):
        assume(name not in handler.EVENTS)
        handler._buckets.clear()
        caplog.clear()
        before = snapshot()
        ack, refused_by_library = _emit(sock, namespace, name, *args)
        assert refused_by_library or (isinstance(ack, dict) and ack.get("ok") is False
                                      and ack.get("code") == "unknown_event"), ack
        assert sock.is_connected(namespace), f"{name!r} dropped the socket"
        assert not _problems_logged(caplog), _problems_logged(caplog)
        assert not diff(before, snapshot()), diff(before, snapshot())
        sock.events(namespace)

    refused()
    _still_usable(sock, handler, namespace, sanity)


# --- connecting with hostile `auth` ------------------------------------------------------------------


@pytest.mark.parametrize("namespace", sorted(ACTORS))
def test_connect_with_hostile_auth_is_refused_cleanly(app, world, request, hostile_socket, caplog, namespace):
    """The same person, connecting again with `auth` that is not {"room": <an id>}: refused, and
    nothing is written (no RoomSocket row) and nothing is logged as an error."""
    sock, handler, _sanity = hostile_socket(namespace)
    flask_client = sock.flask_test_client if hasattr(sock, "flask_test_client") else None
    assert flask_client is not None
    caplog.set_level(logging.INFO)
    room_ids = st.one_of(json_values, st.sampled_from([2**31, 2**63, 2**70, -(2**70), 10**100 - 1, 0, 1.0, True]))
    auths = st.one_of(json_values, st.fixed_dictionaries({"room": room_ids}, optional={"x": json_values}))

    @HOSTILE_SETTINGS
    @given(auth=auths)
    def refused(auth):
        assume(auth is not None and auth != {})  # no auth at all is tested with the sessions' sockets
        room = auth.get("room") if isinstance(auth, dict) else None
        assume(not (type(room) is int and room == sock.room_id))  # that is the real room: it connects
        caplog.clear()
        before = snapshot()
        try:
            other = request.getfixturevalue("socket_for")(flask_client, None, namespace=namespace, auth=auth)
        except Exception as exc:
            if (problem := _library_or_clean(exc)) is not None:
                raise AssertionError(problem) from exc
            return
        assert not other.is_connected(namespace), f"connected with auth={auth!r}"
        assert not _problems_logged(caplog), _problems_logged(caplog)
        assert not diff(before, snapshot()), diff(before, snapshot())

    refused()
    assert sock.is_connected(namespace)


# --- payloads the schema accepts, with hostile content ---------------------------------------------

MOVE_KEYS = st.sampled_from(["cell", "column", "card", "kind", "phase", "mood", "stroke_id", "color", "width",
                             "points", "x", "__proto__"])


@pytest.mark.parametrize("event,payloads", [
    ("chat", st.fixed_dictionaries({"text": nasty_text.filter(lambda t: 0 < len(t) <= 500)})),
    ("signal", st.one_of(
        st.fixed_dictionaries({"description": st.fixed_dictionaries(
            {"type": st.sampled_from(["offer", "answer", "rollback"]), "sdp": nasty_text})}),
        st.fixed_dictionaries({"candidate": st.fixed_dictionaries(
            {"candidate": nasty_text.filter(lambda t: len(t) <= 1024)},
            optional={"sdpMid": st.none() | nasty_text.filter(lambda t: len(t) <= 64),
                      "sdpMLineIndex": st.none() | st.integers(0, 64)})}),
    )),
])
def test_call_relays_schema_valid_nasty_text_without_failing(app, world, hostile_socket, caplog, event, payloads):
    sock, handler, sanity = hostile_socket("/call")
    caplog.set_level(logging.INFO)

    @HOSTILE_SETTINGS
    @given(payload=payloads)
    def relayed(payload):
        assert handler.EVENTS[event].validator.is_valid(payload)
        handler._buckets.clear()
        caplog.clear()
        before = snapshot()
        ack, _ = _emit(sock, "/call", event, payload)
        assert isinstance(ack, dict), ack
        assert ack.get("ok") is True or ack.get("code") == "invalid", ack  # whitespace-only chat is refused
        assert not _server_errors(sock, "/call")
        assert not _problems_logged(caplog), _problems_logged(caplog)
        assert not diff(before, snapshot()), diff(before, snapshot())  # chat and signals are never stored

    relayed()
    _still_usable(sock, handler, "/call", sanity)


def test_games_refuse_schema_valid_nonsense_moves_and_write_nothing(app, world, hostile_socket, caplog):
    """Moves shaped as the schema wants, with anything inside `move`: the rules must refuse them
    (or accept a real move) — never fail, and a refused move changes nothing."""
    sock, handler, sanity = hostile_socket("/games")
    caplog.set_level(logging.INFO)
    moves = st.dictionaries(st.one_of(MOVE_KEYS, nasty_text), json_values, max_size=8)
    counter = iter(range(10**6))

    @HOSTILE_SETTINGS
    @given(move=moves, version_offset=st.sampled_from([0, 0, 0, 1, -1]))
    def played(move, version_offset):
        handler._buckets.clear()
        caplog.clear()
        sock.emit("sync", None, namespace="/games")
        game = [m["args"][0] for m in sock.events("/games") if m["name"] == "game"][-1]
        before = snapshot()
        payload = {"version": max(0, game["version"] + version_offset), "move_id": f"hostile-{next(counter):06d}",
                   "move": move}
        ack, refused_by_library = _emit(sock, "/games", "move", payload)
        assert refused_by_library or isinstance(ack, dict), ack
        assert not _server_errors(sock, "/games")
        assert not _problems_logged(caplog), _problems_logged(caplog)
        if refused_by_library or ack.get("ok") is not True:
            assert not diff(before, snapshot()), diff(before, snapshot())
        sock.events("/games")

    played()
    _still_usable(sock, handler, "/games", sanity)


# --- raw frames: not JSON, wrong shapes, 10,000 levels deep ---------------------------------------


def _raw_frames(namespace: str, room_id: int) -> list[str]:
    """Socket.IO packets (without Engine.IO's leading "4") that no well-behaved client sends."""
    deep = "[" * 10_000 + "]" * 10_000
    deep_object = '{"a":' * 10_000 + "1" + "}" * 10_000
    return [
        f"2{namespace},not json at all",
        f"2{namespace},[\"chat\",{{\"text\":\"unterminated",
        f"2{namespace},{{\"not\":\"a list\"}}",
        f"2{namespace},\"just a string\"",
        f"2{namespace},[]",
        f"2{namespace},[null]",
        f"2{namespace},[1,2,3]",
        f"2{namespace},[{{\"a\":1}},{{}}]",
        f"2{namespace},[[\"sync\"]]",
        f"2{namespace},[\"chat\",{deep}]",
        f"2{namespace},[{deep}]",
        f"2{namespace},[\"chat\",{{\"text\":{deep_object}}}]",
        f"2{namespace},[\"chat\",NaN,Infinity,-Infinity]",
        f"2{namespace},[\"chat\",{{\"text\":\"\\ud800\\u0000\\u202e\"}}]",
        f"2{namespace},[\"chat\",1e999999]",
        f"2{namespace},[\"chat\",{'9' * 5000}]",
        f"2{namespace},99999999999999999999999999999999999999999999[\"sync\"]",
        f"2{namespace},7[\"connect\",{{\"room\":{room_id}}}]",
        f"2{namespace},8[\"connect\",{{}},{{\"room\":{room_id}}}]",
        f"2{namespace},[\"disconnect\",\"client namespace disconnect\"]",
        f"3{namespace},12345[\"whatever\"]",
        f"51-{namespace},[\"chat\",{{\"_placeholder\":true,\"num\":7}}]",
        f"51-{namespace},[\"chat\",{{\"_placeholder\":true,\"num\":0}}]",
        f"599-{namespace},[\"chat\"]",
        f"8{namespace},[]",
        f"4{namespace},{{\"message\":\"fake connect error\"}}",
        "2/nonexistent,[\"sync\"]",
        "x",
        "",
    ]


def _library_or_clean(exc: BaseException | None) -> str | None:
    """None if the frame was refused cleanly: no exception, or one raised by the Socket.IO library
    while decoding it (logged by Engine.IO, never reaching our code). Otherwise a description."""
    if exc is None:
        return None
    ours = [frame for frame in traceback.extract_tb(exc.__traceback__) if str(APP_DIR) in frame.filename]
    if ours:
        return f"{type(exc).__name__} in our code: {ours[-1].filename}:{ours[-1].lineno}"
    return None


@pytest.mark.parametrize("namespace", sorted(ACTORS))
def test_raw_frames_that_are_not_valid_socketio_change_nothing(app, world, hostile_socket, caplog, namespace):
    sock, handler, sanity = hostile_socket(namespace)
    caplog.set_level(logging.INFO)
    room_id = sock.room_id
    problems = []
    for frame in _raw_frames(namespace, room_id):
        handler._buckets.clear()
        caplog.clear()
        before = snapshot()
        raised = None
        try:
            run_isolated(socketio.server._handle_eio_message, sock.eio_sid, frame)
            if frame.startswith("51-"):
                run_isolated(socketio.server._handle_eio_message, sock.eio_sid, b"\x00\xff garbage")
        except Exception as exc:  # noqa: BLE001 - judged below: the library may refuse a frame by raising
            raised = exc
        socketio.server._binary_packet.pop(sock.eio_sid, None)
        label = frame[:60]
        if (problem := _library_or_clean(raised)) is not None:
            problems.append(f"{label}: {problem}")
        if _problems_logged(caplog):
            problems.append(f"{label}: logged {_problems_logged(caplog)}")
        if _server_errors(sock, namespace):
            problems.append(f"{label}: server_error")
        if changed := diff(before, snapshot()):
            problems.append(f"{label}: wrote {changed}")
        if not sock.is_connected(namespace):
            problems.append(f"{label}: dropped the socket")
            break
        sock.events(namespace)
    assert not problems, "\n".join(problems)
    _still_usable(sock, handler, namespace, sanity)


# --- a real server: the nastiest frames over a real WebSocket --------------------------------------


@pytest.mark.slow
def test_real_server_survives_hostile_websocket_frames(app, world, request, database_url, tmp_path):
    import requests
    import websocket

    from app.extensions import db
    from tests.conftest import PASSWORD
    from tests.integration.sessions.test_cluster import _csrf
    from tests.support.servers import running_server

    room = request.getfixturevalue("live_room")()
    room_id, email = room.id, world.therapist.email
    db.session.remove()
    with running_server("eventlet", database_url, tmp_path / "server") as server:
        base = server.base_url
        http = requests.Session()
        response = http.post(base + "/login", timeout=10, data={
            "email": email, "password": PASSWORD, "csrf_token": _csrf(http, base + "/login")})
        assert response.status_code == 200 and "/home" in response.url
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        ws_url = base.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

        def open_call():
            ws = websocket.create_connection(ws_url, origin=base, header=[f"Cookie: {cookie}"], timeout=10)
            assert ws.recv().startswith("0{")  # Engine.IO open
            ws.send(f"40/call,{json.dumps({'room': room_id})}")
            connected = _recv_until(ws, lambda m: m.startswith("40/call,"))
            assert connected, "the therapist could not connect to /call"
            return ws

        ws = open_call()
        deep = "[" * 10_000 + "]" * 10_000
        nasty = [*_raw_frames("/call", room_id), f"2/call,[\"chat\",{deep}]",
                 "2/call,[\"chat\",{\"text\":\"\\ud800\\u0000\\u202e\\ud83d\\udc69\\u200d\\ud83d\\udc67\"}]"]
        # A binary-event header makes the library take the next frames as its attachments (this
        # client only hurts itself): those go last, after checking the socket still answers.
        for frame in [f for f in nasty if not f.startswith("5")]:
            ws.send("4" + frame)
        ws.send("42/call,1[\"ice_servers\"]")
        answer = _recv_until(ws, lambda m: m.startswith("43/call,1["))
        assert answer and '"ok":true' in answer.replace(" ", ""), (answer, server.log())
        for frame in [f for f in nasty if f.startswith("5")]:
            ws.send("4" + frame)
            ws.send_binary(b"\x04\xff\xfe garbage")
        # A frame over the 64 KB limit: this connection is closed, the server carries on.
        try:
            ws.send("42/call,[\"chat\",{\"text\":\"" + "x" * (1024 * 1024) + "\"}]")
            _recv_until(ws, lambda m: False, seconds=2)
        except (websocket.WebSocketException, OSError):
            pass
        # The server has dropped this connection: close() would skip a socket it thinks is gone,
        # so shut the socket itself (left open, its ResourceWarning failed a later test).
        ws.shutdown()

        assert server.process.poll() is None, server.log()
        assert requests.get(base + "/login", timeout=5).status_code == 200
        again = open_call()  # and a socket works again
        again.send("42/call,1[\"ice_servers\"]")
        assert _recv_until(again, lambda m: m.startswith("43/call,1["))
        again.close()
        # The library logs the frames it could not decode; none of our code may have failed.
        log = server.log_path.read_text(errors="replace")
        assert f'File "{APP_DIR}' not in log and "socket handler failed" not in log, log[-4000:]


def _recv_until(ws, wanted, seconds: float = 5) -> str | None:
    """Read frames (answering Engine.IO pings) until one satisfies `wanted`."""
    import websocket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            message = ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        if isinstance(message, bytes):
            continue
        if message == "2":
            ws.send("3")
            continue
        if wanted(message):
            return message
    return None
