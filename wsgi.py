"""Entry point. Patches the standard library for the configured async mode *before* anything
else is imported, then builds the app. Only this file knows about eventlet or gevent.

    python wsgi.py                      # development server (eventlet by default)
    ASYNC_MODE=gevent gunicorn -k gevent -w 1 wsgi:app   # see docs/DEPLOYMENT.md
"""

import gc
import os

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")
if ASYNC_MODE == "eventlet":
    # psycopg 3 waits on its socket in C unless told otherwise, which blocks eventlet's hub for
    # the length of every query (it detects gevent's patching by itself, not eventlet's). The
    # select()-based wait goes through eventlet's green select. tests/integration/scale proves it.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    import warnings

    # eventlet stays supported while it is maintained; its deprecation notice is not for operators.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()
elif ASYNC_MODE != "threading":
    raise SystemExit(f"ASYNC_MODE must be eventlet, gevent or threading, not {ASYNC_MODE!r}")

from app import create_app  # noqa: E402
from app.extensions import socketio  # noqa: E402

app = create_app()

# Everything built so far (modules, the app, SQLAlchemy's mappers) lives as long as the process:
# move it out of the cyclic garbage collector's reach, so a full collection walks only what was
# made since (sockets, requests). Otherwise each full collection of a loaded server pauses every
# socket for tens of milliseconds (measured: 12-200 ms; docs/BENCHMARKS.md section 1).
gc.collect()
gc.freeze()

#: Connections the kernel queues while the server is busy. socketio.run() keeps eventlet's 50: a
#: thousand clients reconnecting after a restart overflowed it, and each dropped SYN cost its client
#: a retransmission 1 s (then 3 s, 7 s) later (docs/BENCHMARKS.md section 5). Capped by somaxconn.
LISTEN_BACKLOG = 1024

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    if ASYNC_MODE == "eventlet":
        import socket

        import eventlet.wsgi

        # What socketio.run() does under eventlet (app.wsgi_app is Socket.IO's middleware), with the
        # backlog above and TCP_NODELAY, which every accepted connection inherits from the listening
        # socket (as gunicorn sets it): eventlet writes a response through a 16 KB buffer, and a
        # 16-64 KB page left as a full buffer and a small rest, which Nagle's algorithm held back
        # until the client's delayed ACK (40 ms; docs/BENCHMARKS.md section 4).
        family, *_rest, address = socket.getaddrinfo(host, port)[0]
        listener = eventlet.listen(address, family, backlog=LISTEN_BACKLOG)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        eventlet.wsgi.server(listener, app, log_output=False)
    else:
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=ASYNC_MODE == "threading")
