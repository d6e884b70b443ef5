"""wsgi.py plus one test-only route that runs a slow SQL query, for the cooperative-driver test.

Run as a script, like wsgi.py: importing `wsgi` patches for ASYNC_MODE first, exactly as in
production, and only then is the route added. The route exists in this process and nowhere else.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# wsgi first: it patches the standard library for ASYNC_MODE, then builds the app.
import wsgi  # noqa: E402, I001

socketio = wsgi.socketio
db = __import__("app.extensions", fromlist=["db"]).db


@wsgi.app.route("/__test__/slow/<float:seconds>")
def slow(seconds: float):
    db.session.execute(db.text("SELECT pg_sleep(:s)"), {"s": seconds})
    db.session.rollback()
    return "slept"


wsgi.app.view_functions["slow"].permission_rule = "public"  # type: ignore[attr-defined]

if __name__ == "__main__":
    socketio.run(wsgi.app, host="127.0.0.1", port=int(os.environ["PORT"]))
