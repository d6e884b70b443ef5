"""Pages at scale (issue 8, benchmark 4): a therapist's agenda and caseload pages and the district
dashboard, for a generated district of 1,000 and of 50,000 students (app/districts/loadgen.py,
the code behind `flask seed-load`), served by wsgi.py (eventlet) on SQLite.

For each size: a freshly migrated SQLite file, `generate(N)` in-process (with a cheap Argon2
hash so signing in is quick; the generator is otherwise unchanged), the real server, the district
admin and the first therapist signed in over HTTP. Each page: 3 warm-up requests, then
BENCH_PAGE_REQUESTS (default 30) sequential requests for p50/p95, then the same number spread
over 4 client threads for requests per second. Bounded: at most 2 x 6 x (3 + 2 x 30) requests.
`/caseloads` is measured on its first page and on a page halfway down its list (`?after=` the
middle student: keyset pages cost the same wherever they are).

    python -m bench pages
    BENCH_STUDENTS=1000,5000 python -m bench pages
    BENCH_PG=postgresql://postgres@127.0.0.1:5432 python -m bench pages   # also PostgreSQL (own database, dropped)
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import cheap_password_hash, cleanup, make_app, migrated_sqlite, percentile, postgres_database, workdir

PASSWORD = "bench load password"  # noqa: S105 - a throwaway benchmark account
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PAGES = [
    ("therapist", "/schedule/day", "agenda (day)"),
    ("therapist", "/home", "home"),
    ("therapist", "/consent/caseload", "caseload (consent)"),
    ("district_admin", "/caseloads", "caseloads (district)"),
    ("district_admin", "/dashboard", "district dashboard"),
]


def _sizes() -> list[int]:
    return [int(x) for x in os.environ.get("BENCH_STUDENTS", "1000,50000").split(",")]


def _sign_in(base: str, email: str) -> requests.Session:
    http = requests.Session()
    token = CSRF.search(http.get(base + "/login", timeout=30).text).group(1)
    response = http.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                         timeout=30, allow_redirects=False)
    assert response.status_code == 302, f"sign-in of {email} failed: {response.status_code}"
    return http


def _measure(http: requests.Session, url: str, n: int) -> dict:
    for _ in range(3):
        r = http.get(url, timeout=60)
        assert r.status_code == 200, f"{url}: {r.status_code}"
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        r = http.get(url, timeout=60)
        samples.append(time.perf_counter() - started)
        assert r.status_code == 200
    cookies = http.cookies.get_dict()

    def one(_i):
        s = requests.Session()
        s.cookies.update(cookies)
        for _ in range(n // 4):
            s.get(url, timeout=60).raise_for_status()
        return n // 4

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        done = sum(pool.map(one, range(4)))
    rps = done / (time.perf_counter() - started)
    return {"p50": percentile(samples, 50) * 1000, "p95": percentile(samples, 95) * 1000, "rps": rps,
            "bytes": len(r.content)}


def _best_ms(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _time_tables(district, kind: str, students: int) -> None:
    """In-process timings of the district dashboard's tables: direct queries, then through the snapshot
    (cold: discarded first, as after any change; warm: read back). Best of 5."""
    from sqlalchemy import select

    from app.db_types import utcnow
    from app.districts import dashboards, snapshots
    from app.districts.models import School
    from app.extensions import db

    now = utcnow()
    names = dict(db.session.execute(select(School.id, School.name).where(School.district_id == district.id)).all())
    start, end = dashboards.default_range(district, now.date())

    def cold_ms() -> float:
        best = float("inf")
        for _ in range(5):
            snapshots.invalidate(db.session, [district.id])  # as any change does, not timed
            db.session.commit()
            started = time.perf_counter()
            dashboards.district_figures(district.id, now)
            db.session.commit()
            best = min(best, time.perf_counter() - started)
        return best * 1000

    from app.districts import rollups

    def sessions_cold():
        rollups.bump(db.session, [district.id])  # as an appointment change does (timed with it: one UPDATE)
        dashboards.sessions_table(district.id, start, end, school=None, names=names)
        db.session.commit()

    timings = {
        "sessions table, cold": sessions_cold,
        "sessions table, stored": lambda: dashboards.sessions_table(district.id, start, end, school=None,
                                                                    names=names),
        "consent counts (direct)": lambda: dashboards.consent_counts(district.id, now),
        "caseload counts (direct)": lambda: dashboards.district_caseload_counts(district.id, now.date()),
        "next consent instant": lambda: dashboards.consent_changes_next(district.id, now),
    }
    for label, fn in timings.items():
        print(f"{kind:<10} {students:>7} in-process {label:<28} {_best_ms(fn):>8.1f} ms", flush=True)
    print(f"{kind:<10} {students:>7} in-process {'snapshot cold (recompute+store)':<28} {cold_ms():>8.1f} ms",
          flush=True)
    dashboards.district_figures(district.id, now)
    db.session.commit()
    print(f"{kind:<10} {students:>7} in-process {'snapshot warm (read)':<28} "
          f"{_best_ms(lambda: dashboards.district_figures(district.id, now)):>8.1f} ms", flush=True)
    print(f"{kind:<10} {students:>7} in-process {'whole dashboard build, warm':<28} "
          f"{_best_ms(lambda: dashboards.build(district, start=start, end=end, now=now)):>8.1f} ms", flush=True)


def _middle_of_caseloads(admin_email: str) -> int:
    """The id of the student halfway down the caseloads page's list (students without a therapist):
    a cursor for a page in the middle of the list."""
    from sqlalchemy import func, select

    from app.auth.models import User
    from app.districts import queries
    from app.extensions import db

    admin = db.session.scalar(select(User).where(User.email == admin_email))
    listed = queries.caseload_students_query(admin)
    total = db.session.scalar(select(func.count()).select_from(listed.subquery()))
    return db.session.scalar(listed.with_only_columns(queries.Student.id).offset(total // 2).limit(1))


def _measure_cold(http: requests.Session, url: str, database_url: str, n: int) -> dict:
    """The dashboard right after a change: its snapshots (consent and caseloads, session sums) discarded
    (outside the timed request) before each view."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    samples = []
    try:
        for _ in range(n):
            with engine.begin() as conn:
                conn.execute(text("UPDATE dashboard_snapshots SET generation = generation + 1, figures = NULL"))
                conn.execute(text("UPDATE session_totals_snapshots SET generation = generation + 1, totals = NULL"))
            started = time.perf_counter()
            r = http.get(url, timeout=60)
            samples.append(time.perf_counter() - started)
            assert r.status_code == 200
    finally:
        engine.dispose()
    return {"p50": percentile(samples, 50) * 1000, "p95": percentile(samples, 95) * 1000}


def run_size(students: int, n: int, pg_server: str | None = None) -> dict:
    """One size on SQLite, or on a database of its own on `pg_server` (dropped afterwards)."""
    from tests.support.servers import start_server

    work = workdir(f"pages-{students}")
    server = None
    drop = None
    kind = "postgresql" if pg_server else "sqlite"
    try:
        if pg_server:
            url, drop = postgres_database(pg_server, work)
        else:
            url = migrated_sqlite(work)
        app = make_app(url, work / "outbox")
        from app.districts.loadgen import generate
        from app.extensions import db

        with app.app_context():
            result = generate(students, seed=2026, password_hash=cheap_password_hash(PASSWORD))
            admin_email = result.admin_email
            middle = _middle_of_caseloads(admin_email)
            therapist_email = admin_email.replace("admin.", "therapist1.")
            counts = result.counts
            print(f"pages ({kind}): {students} students generated in {result.seconds:.1f} s: {counts}", flush=True)
            _time_tables(result.district, kind, students)
            db.session.remove()
            db.engine.dispose()
        server = start_server("eventlet", url, work / "server", timeout=60)
        sessions = {"therapist": _sign_in(server.base_url, therapist_email),
                    "district_admin": _sign_in(server.base_url, admin_email)}
        out = {}
        pages = [*PAGES, ("district_admin", f"/caseloads?after={middle}", "caseloads, middle page")]
        for who, path, label in pages:
            out[label] = _measure(sessions[who], server.base_url + path, n)
            r = out[label]
            print(f"{kind:<10} {students:>7} {label:<22} p50 {r['p50']:>8.1f} ms  p95 {r['p95']:>8.1f} ms  "
                  f"{r['rps']:>6.1f} req/s  ({r['bytes'] // 1024} KB)", flush=True)
        r = _measure_cold(sessions["district_admin"], server.base_url + "/dashboard", url, max(3, n // 3))
        print(f"{kind:<10} {students:>7} {'dashboard, cold':<22} p50 {r['p50']:>8.1f} ms  p95 {r['p95']:>8.1f} ms  "
              f"(every view after a change: the snapshot discarded before each request)", flush=True)
        return out
    finally:
        if server is not None:
            server.stop()
        if drop is not None:
            drop()
        cleanup(work)


def main() -> int:
    n = int(os.environ.get("BENCH_PAGE_REQUESTS", "30"))
    sizes = _sizes()
    backends = [None] + ([os.environ["BENCH_PG"]] if os.environ.get("BENCH_PG") else [])
    for pg in backends:
        results = {size: run_size(size, n, pg) for size in sizes}
        if len(sizes) >= 2:
            small, large = min(sizes), max(sizes)
            print(f"\nratios {large} / {small} students ({'postgresql' if pg else 'sqlite'}, same run):")
            for label in results[small]:
                a, b = results[small][label], results[large][label]
                print(f"  {label:<22} p50 x{b['p50'] / a['p50']:.2f}  p95 x{b['p95'] / a['p95']:.2f}  "
                      f"req/s x{b['rps'] / a['rps']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
