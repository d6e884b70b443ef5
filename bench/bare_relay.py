"""A bare Flask-SocketIO relay, the baseline for the game-move benchmark (bench/relay.py).

No auth, no validation, no saving: a client connects to `/games` with auth {"room", "role"},
joins that room's channel, and each `move` is broadcast to the room as a `game` event carrying
a version number kept in memory; the ack returns the version, as Homeroom's does. Same async mode
(ASYNC_MODE, eventlet by default) and the same HOST/PORT environment as wsgi.py.

    ASYNC_MODE=eventlet PORT=5099 python bench/bare_relay.py
"""

import os

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")
if ASYNC_MODE == "eventlet":
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    # The same server settings as wsgi.py, so the comparison is of what the apps do (below: the
    # startup objects frozen, and under eventlet the same listener: TCP_NODELAY and the backlog).

import gc  # noqa: E402

from flask import Flask, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode=ASYNC_MODE, cors_allowed_origins="*")
versions: dict[int, int] = {}
rooms_of: dict[str, int] = {}


@app.route("/login")
def login():
    return "ok"  # start_server() polls /login to know the server is up


@socketio.on("connect", namespace="/games")
def connect(auth):
    room = int(auth["room"])
    rooms_of[request.sid] = room
    join_room(f"r{room}")
    versions.setdefault(room, 1)
    socketio.emit("game", {"version": versions[room], "events": []}, to=request.sid, namespace="/games")


@socketio.on("disconnect", namespace="/games")
def disconnect(*_args):
    rooms_of.pop(request.sid, None)


def _bump(payload_events):
    room = rooms_of[request.sid]
    versions[room] += 1
    socketio.emit("game", {"version": versions[room], "events": payload_events}, to=f"r{room}", namespace="/games")
    return room


@socketio.on("move", namespace="/games")
def move(payload):
    room = _bump([{"type": "move", "move": payload.get("move")}])
    return {"ok": True, "version": versions[room]}


@socketio.on("reset", namespace="/games")
def reset(_payload):
    _bump([{"type": "reset"}])
    return {"ok": True}  # as Homeroom answers a control


@socketio.on("start", namespace="/games")
def start(_payload):
    _bump([{"type": "started"}])
    return {"ok": True}


gc.collect()
gc.freeze()

if __name__ == "__main__":
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5099"))
    if ASYNC_MODE == "eventlet":
        import socket

        import eventlet.wsgi

        listener = eventlet.listen((host, port), backlog=1024)  # wsgi.LISTEN_BACKLOG
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        eventlet.wsgi.server(listener, app, log_output=False)
    else:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=ASYNC_MODE == "threading")
