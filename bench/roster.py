"""Roster import of 10,000 rows (issue 8, benchmark 6), through app/districts/roster.py in-process.

The file follows docs/ROSTER_FORMAT.md: BENCH_ROSTER_ROWS rows (default 10,000), two thirds
students and one third guardians, each guardian linked to two students, over two schools.
Timed, as the pages call the services (app/districts/views.py):
  * preview   = decode + plan (the upload POST) + store_upload, then plan again (the preview page GET);
  * apply     = apply (re-plans the stored file, then writes everything in one transaction);
  * re-apply  = the same file uploaded again: plan + store_upload + apply, nothing changes;
  * corrected = the file with 1 % of the students' grades changed: plan + store_upload + apply.

    python -m bench roster                              # SQLite (a fresh migrated file)
    BENCH_PG=postgresql://postgres@127.0.0.1:5432 python -m bench roster   # also PostgreSQL
"""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import date, timedelta

from bench.common import cheap_password_hash, cleanup, make_app, migrated_sqlite, postgres_database, workdir

COLUMNS = ["sourcedId", "status", "role", "givenName", "familyName", "preferredFirstName", "email", "grades",
           "orgSourcedIds", "birthDate", "agentSourcedIds", "metadata.hr.language", "metadata.hr.relationship",
           "metadata.hr.legalAuthority", "metadata.hr.restricted"]
SCHOOLS = ["bench-es", "bench-ms"]


def roster_csv(rows: int, *, changed_every: int = 0) -> str:
    """`rows` rows: students stu-N (2 per guardian) and guardians par-N; every `changed_every`-th
    student's grade differs (a corrected file)."""
    guardians = rows // 3
    students = rows - guardians
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for i in range(students):
        grade = str(1 + i % 12)
        if changed_every and i % changed_every == 0:
            grade = "K"
        writer.writerow([f"stu-{i}", "active", "student", f"Given{i}", f"Family{i // 2}", "", "", grade,
                         SCHOOLS[i % 2], (date(2012, 1, 1) + timedelta(days=i % 3000)).isoformat(),
                         f"par-{(i // 2) % guardians}", "en" if i % 5 else "es", "", "", ""])
    for g in range(guardians):
        writer.writerow([f"par-{g}", "active", "guardian", f"Parent{g}", f"Family{g}", "", f"parent{g}@bench.example",
                         "", "", "", "", "en", "mother" if g % 2 else "father", "true", "false"])
    return out.getvalue()


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run(database_url: str, outbox, rows: int) -> list[tuple[str, float, str]]:
    from app.auth.models import User
    from app.districts import roster
    from app.districts.models import District, School
    from app.extensions import db

    app = make_app(database_url, outbox)
    out = []
    with app.app_context():
        district = District(name="Roster Bench", school_year_end=date.today() + timedelta(days=200))
        db.session.add(district)
        db.session.flush()
        for sid in SCHOOLS:
            db.session.add(School(district_id=district.id, name=f"School {sid}", timezone="America/Chicago", source_id=sid))
        admin = User(email="roster-admin@bench.example", name="Roster Admin", role="district_admin",
                     district_id=district.id, password_hash=cheap_password_hash("unused"))
        db.session.add(admin)
        db.session.commit()

        def upload(text: str, label: str):
            raw = text.encode()
            (plan, stored), seconds = _timed(lambda: (p := roster.plan(district.id, roster.decode(raw)),
                                                      roster.store_upload(admin, "roster.csv", text, p)))
            assert plan.ok, plan.problems[:3]
            _again, page_seconds = _timed(lambda: roster.plan(district.id, stored.content))
            out.append((f"{label}: preview (upload: plan + store)", seconds, str(plan.summary())))
            out.append((f"{label}: preview page (plan again)", page_seconds, ""))
            result, apply_seconds = _timed(lambda: roster.apply(admin, stored))
            assert result.ok
            out.append((f"{label}: apply", apply_seconds, str(result.summary())))

        text = roster_csv(rows)
        upload(text, "first import")
        upload(text, "re-apply same file")
        upload(roster_csv(rows, changed_every=100), "corrected (1% of students)")
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> int:
    rows = int(os.environ.get("BENCH_ROSTER_ROWS", "10000"))
    print(f"roster: {rows} rows ({len(roster_csv(rows).encode()) / 1e6:.2f} MB)")
    targets = [("sqlite", None)]
    if os.environ.get("BENCH_PG"):
        targets.append(("postgresql", os.environ["BENCH_PG"]))
    for kind, server in targets:
        work = workdir("roster")
        drop = None
        try:
            if kind == "sqlite":
                url = migrated_sqlite(work)
            else:
                url, drop = postgres_database(server, work)
            print(f"{'step (' + kind + ')':<58} {'seconds':>8}  summary")
            for label, seconds, summary in run(url, work / "outbox", rows):
                print(f"{label:<58} {seconds:>8.2f}  {summary}", flush=True)
        finally:
            if drop:
                drop()
            cleanup(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
