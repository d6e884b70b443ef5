"""Apply a stored roster upload, and stop dead in the middle: run by test_interrupted_writes.py.

    DATABASE_URL=... OUTBOX_DIR=... python -m tests.integration.faults.roster_worker UPLOAD_ID ADMIN_ID

When the import is about to insert the guardian links (every student and guardian row is then
inserted, uncommitted, in its transaction) it prints "paused <students in the transaction>" and
waits for ever, so the test can SIGKILL it there.
"""

from __future__ import annotations

import os
import sys
import time

from sqlalchemy import event

from app import create_app
from app.auth.models import User
from app.districts import roster
from app.districts.models import RosterImport
from app.extensions import db
from config import TestConfig, normalise_database_url


def main(upload_id: int, admin_id: int) -> None:
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=normalise_database_url(os.environ["DATABASE_URL"]),
                     OUTBOX_DIR=os.environ["OUTBOX_DIR"])
    with app.app_context():
        def pause_before_links(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("INSERT INTO GUARDIAN_LINKS"):
                probe = conn.connection.dbapi_connection.cursor()
                probe.execute("SELECT COUNT(*) FROM students")
                print(f"paused {probe.fetchone()[0]}", flush=True)
                while True:
                    time.sleep(60)

        event.listen(db.engine, "before_cursor_execute", pause_before_links)
        roster.apply(db.session.get(User, admin_id), db.session.get(RosterImport, upload_id))
        print("finished without pausing", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
