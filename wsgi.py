"""Entry point. Patches the standard library for the configured async mode *before* anything
else is imported, then builds the app. Only this file knows about eventlet or gevent.

    python wsgi.py                      # development server (eventlet by default)
    ASYNC_MODE=gevent gunicorn -k gevent -w 1 wsgi:app   # see docs/DEPLOYMENT.md
"""

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

if __name__ == "__main__":
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=ASYNC_MODE == "threading")
