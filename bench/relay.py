"""Game-move relay round trip (issue 8, benchmark 1): Homeroom's `/games` against a bare relay.

One move = player A emits `move` (with an ack callback) -> the server -> player B receives the
`game` event carrying the new version, and A receives its ack. The round trip is the time from
A's emit until both have happened (both clients live in this process: one clock). Tic-tac-toe,
therapist and student alternating; after 8 moves (no winner yet) the therapist resets the board
(not timed). Each room makes its moves with a think time drawn uniformly from 0.5..1.5 x THINK,
so the offered load grows with the number of rooms. Server CPU per move is the server process's
utime+stime (/proc/<pid>/stat) over the timed phase divided by the moves made.

The same client code drives:
  * Homeroom: wsgi.py (ASYNC_MODE=eventlet) on a freshly migrated SQLite file (or BENCH_PG), with live rooms
    made through the app's services (therapist, students, guardians, games consent, open rooms),
    the therapist signed in over HTTP and each student joining by code over HTTP (so each
    socket carries a real session cookie), admitted through `services.admit`;
  * bench/bare_relay.py: the same events, no auth, no validation, no saving (same async mode).

    python -m bench relay                      # 1, 50 and 200 rooms
    BENCH_ROOMS=1,20 python -m bench relay     # other levels
    BENCH_PG=postgresql://postgres@127.0.0.1:5432 python -m bench relay   # on PostgreSQL (own database, dropped)
    BENCH_PROFILE=/tmp/relay.prof BENCH_ROOMS=50 python -m bench relay   # Homeroom under cProfile
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
import socketio as socketio_client

from bench.common import (
    ROOT,
    cheap_password_hash,
    cleanup,
    cpu_seconds,
    make_app,
    migrated_sqlite,
    percentile,
    postgres_database,
    workdir,
)

PASSWORD = "bench horse battery staple"  # noqa: S105 - a throwaway benchmark account
THERAPIST_EMAIL = "bench-therapist@example.org"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# Tic-tac-toe cells, therapist first, that leave the board without a winner after 8 moves.
CELLS = [0, 1, 2, 4, 3, 5, 7, 6]
# (rooms, moves per room, mean think time in seconds between a room's moves)
LEVELS = {1: (1, 80, 0.1), 50: (50, 16, 1.0), 200: (200, 8, 1.0)}
TIMEOUT = 10.0


def _levels() -> list[tuple[int, int, float]]:
    wanted = os.environ.get("BENCH_ROOMS")
    if not wanted:
        return list(LEVELS.values())
    out = []
    for n in (int(x) for x in wanted.split(",")):
        out.append(LEVELS.get(n, (n, 16, 1.0)))
    return out


# --- Homeroom data ------------------------------------------------------------------------------


def make_rooms(database_url: str, outbox, n: int) -> list[dict]:
    """n live-ready rooms (telehealth appointment now, games consent, room open) for one therapist."""
    from datetime import date
    from zoneinfo import ZoneInfo

    from app.auth.models import User
    from app.consent.models import SCOPES
    from app.consent.services import decide, publish_template, request_consent
    from app.db_types import utcnow
    from app.districts.models import CaseloadAssignment, District, GuardianLink, School, Student
    from app.extensions import db
    from app.scheduling.models import Appointment
    from app.sessions import services

    app = make_app(database_url, outbox)
    rooms = []
    with app.app_context():
        pw = cheap_password_hash(PASSWORD)
        district = District(name="Bench District", school_year_end=date.today() + timedelta(days=200))
        db.session.add(district)
        db.session.flush()
        school = School(district_id=district.id, name="Bench Elementary", timezone="America/Los_Angeles")
        db.session.add(school)
        db.session.flush()
        admin = User(email="bench-admin@example.org", name="Bench Admin", password_hash=pw, role="district_admin",
                     district_id=district.id)
        therapist = User(email=THERAPIST_EMAIL, name="Bench Therapist", password_hash=pw, role="therapist",
                         district_id=district.id)
        therapist.schools = [school]
        db.session.add_all([admin, therapist])
        db.session.commit()
        publish_template(admin, scopes=list(SCOPES), title_en="Consent", title_es="Consentimiento",
                         body_en="We ask your consent.", body_es="Pedimos su consentimiento.")
        now = utcnow().replace(second=0, microsecond=0)
        for i in range(n):
            student = Student(district_id=district.id, school_id=school.id, first_name=f"Kid{i}", last_name="Bench",
                              grade="4", date_of_birth=date(2016, 5, 1), preferred_language="en", source_id=f"bench-{i}")
            guardian = User(email=f"bench-guardian{i}@example.org", name=f"Guardian {i}", password_hash=pw,
                            role="guardian", district_id=district.id)
            db.session.add_all([student, guardian])
            db.session.flush()
            db.session.add(GuardianLink(district_id=district.id, guardian_id=guardian.id, student_id=student.id,
                                        relationship_label="parent", legal_authority=True, restricted=False))
            db.session.add(CaseloadAssignment(district_id=district.id, therapist_id=therapist.id, student_id=student.id,
                                              starts_on=date.today() - timedelta(days=30)))
            appointment = Appointment(
                district_id=district.id, school_id=school.id, therapist_id=therapist.id, student_id=student.id,
                starts_at=now, ends_at=now + timedelta(minutes=90),
                local_date=now.astimezone(ZoneInfo(school.timezone)).date(),
                modality="telehealth", status="scheduled", created_by_id=therapist.id)
            db.session.add(appointment)
            db.session.commit()
            at = utcnow() - timedelta(minutes=2)
            created = request_consent(therapist, student, scopes=list(SCOPES), now=at)
            decide(created.request, guardian, decision="signed", choices=dict.fromkeys(SCOPES, True),
                   typed_name=guardian.name, confirmed_legal_guardian=True, language="en", now=at)
            room = services.open_room(therapist, appointment, now=utcnow())
            rooms.append({"id": room.id, "code": room.join_code})
        db.session.remove()
        db.engine.dispose()
    return rooms


def _csrf(http: requests.Session, url: str) -> str:
    return CSRF.search(http.get(url, timeout=10).text).group(1)


def sign_in_therapist(base: str) -> requests.Session:
    http = requests.Session()
    response = http.post(base + "/login", timeout=10, allow_redirects=False, data={
        "email": THERAPIST_EMAIL, "password": PASSWORD, "csrf_token": _csrf(http, base + "/login")})
    assert response.status_code == 302, f"therapist sign-in failed: {response.status_code}"
    return http


def join_student(base: str, room: dict) -> requests.Session:
    http = requests.Session()
    http.post(base + "/join", timeout=10, data={"code": room["code"], "csrf_token": _csrf(http, base + "/join")})
    ready = f"{base}/sessions/rooms/{room['id']}/ready"
    http.post(ready, data={"choice": "yes", "csrf_token": _csrf(http, ready)}, timeout=10)
    return http


def admit_all(database_url: str, outbox, room_ids: list[int]) -> None:
    from sqlalchemy import select

    from app.extensions import db
    from app.sessions import services
    from app.sessions.models import StudentGrant

    app = make_app(database_url, outbox)
    with app.app_context():
        grants = db.session.scalars(select(StudentGrant).where(StudentGrant.room_id.in_(room_ids))).all()
        assert len(grants) == len(room_ids), f"{len(grants)} grants for {len(room_ids)} rooms"
        for grant in grants:
            services.admit(grant.room.therapist, grant.room, grant)
        db.session.remove()
        db.engine.dispose()


#: Server limits opened up for benchmark clients that all come from 127.0.0.1.
BENCH_LIMITS = {"JOIN_LIMIT_PER_IP": "100000 per minute", "JOIN_LIMIT_PER_ROOM": "100 per minute",
                "LOGIN_LIMIT_PER_IP": "1000 per minute"}


def _cookie_header(http: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def seat_players(database_url: str, outbox, rooms: list[dict], therapist_base: str,
                 student_base: str | None = None) -> dict:
    """Sign the therapist in, join every room's student (on `student_base`, default the same
    server) and admit them. Returns the Cookie headers: "therapist" and one per room id."""
    cookies = {"therapist": _cookie_header(sign_in_therapist(therapist_base))}
    with ThreadPoolExecutor(4) as pool:
        sessions = list(pool.map(lambda r: join_student(student_base or therapist_base, r), rooms))
    for room, http in zip(rooms, sessions, strict=True):
        cookies[room["id"]] = _cookie_header(http)
    admit_all(database_url, outbox, [r["id"] for r in rooms])
    return cookies


# --- clients ------------------------------------------------------------------------------------


class Player:
    """One Socket.IO client on /games, remembering the newest `game` version it has seen."""

    def __init__(self, base: str, room_id: int, role: str, cookie: str | None, *, reconnection: bool = False):
        self.role = role
        self.connects = 0  # `connect` of /games, counting reconnections
        self.version = 0  # of the latest `game` event (a new game starts again at 1)
        self.seen = 0  # `game` events received
        self.changed = threading.Condition()
        self.errors: list = []
        # With reconnection: python-socketio's backoff (0.5 s doubling to 5 s) with +-50 % jitter.
        self.client = socketio_client.Client(reconnection=reconnection, reconnection_delay=0.5,
                                             reconnection_delay_max=5, randomization_factor=0.5)
        self.client.on("connect", self._connected, namespace="/games")
        self.client.on("game", self._game, namespace="/games")
        self.client.on("error", self.errors.append, namespace="/games")
        headers = {}  # websocket-client sends Origin (the server's own) by itself
        if cookie:
            headers["Cookie"] = cookie
        self.client.connect(base, namespaces=["/games"], auth={"room": room_id, "role": role},
                            transports=["websocket"], headers=headers, wait_timeout=TIMEOUT)

    def _connected(self, *_args):
        self.connects += 1

    def _game(self, payload):
        with self.changed:
            self.version = int(payload.get("version") or 0)
            self.seen += 1
            self.changed.notify_all()

    def wait_version(self, version: int, timeout: float = TIMEOUT) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.version >= version, timeout)

    def wait_seen(self, count: int, timeout: float = TIMEOUT) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.seen >= count, timeout)

    def call(self, event: str, payload: dict) -> object:
        return self.client.call(event, payload, namespace="/games", timeout=TIMEOUT)

    def close(self):
        if self.client.connected:
            self.client.disconnect()


class RoomDriver:
    def __init__(self, therapist: Player, student: Player):
        self.players = {"therapist": therapist, "student": student}
        self.samples: list[float] = []
        self.failures: list[str] = []

    def version(self) -> int:
        return self.players["therapist"].version

    def _control(self, event: str, payload: dict) -> None:
        """The therapist's control, seen by both players. Controls are rate-limited per socket (a
        reset: 1 a second, 5 at once): at this pace a room resets every ~10 moves, faster than that,
        so a refused one is pressed again a second later, as a person would."""
        before = {role: p.seen for role, p in self.players.items()}
        for _attempt in range(5):
            ack = self.players["therapist"].call(event, payload)
            if not (isinstance(ack, dict) and ack.get("code") == "rate_limited"):
                break
            time.sleep(1.0)
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"{event} refused: {ack!r}")
        for role, p in self.players.items():
            if not p.wait_seen(before[role] + 1):
                raise TimeoutError(f"{event} not seen by {role}")

    def start(self) -> None:
        self._control("start", {"game": "tic_tac_toe", "first_player": "therapist"})

    def run(self, moves: int, think: float, rng: random.Random) -> None:
        made = 0
        try:
            while made < moves:
                for i, cell in enumerate(CELLS):
                    if made >= moves:
                        break
                    time.sleep(rng.uniform(0.5 * think, 1.5 * think))
                    a = self.players["therapist" if i % 2 == 0 else "student"]
                    b = self.players["student" if i % 2 == 0 else "therapist"]
                    version = self.version()
                    started = time.perf_counter()
                    ack = a.call("move", {"version": version, "move_id": f"m{version:06d}{rng.randrange(10**8):08d}",
                                          "move": {"cell": cell}})
                    if not (isinstance(ack, dict) and ack.get("ok")):
                        self.failures.append(f"ack {ack!r} errors {a.errors[-1:]}")
                        return
                    if not b.wait_version(version + 1):
                        self.failures.append("B never saw the move")
                        return
                    self.samples.append(time.perf_counter() - started)
                    made += 1
                    a.wait_version(version + 1)
                if made < moves:
                    time.sleep(rng.uniform(0.5 * think, 1.5 * think))
                    self._control("reset", {"first_player": "therapist"})
        except Exception as exc:  # noqa: BLE001 - reported as a failure of this room
            self.failures.append(repr(exc))


def run_level(base: str, pid: int | list[int], rooms: list[dict], cookies: dict, moves: int, think: float,
              *, student_base: str | None = None) -> dict:
    """Connect two players per room, start games, then time `moves` moves per room concurrently.
    `student_base`: the students connect to this server instead (cross-process, bench/redis_relay.py);
    `pid` may then list every server process, whose CPU time is summed."""
    pids = pid if isinstance(pid, list) else [pid]
    drivers: list[RoomDriver] = []
    players: list[Player] = []
    try:
        def connect(room):
            t = Player(base, room["id"], "therapist", cookies.get("therapist"))
            players.append(t)
            s = Player(student_base or base, room["id"], "student", cookies.get(room["id"]))
            players.append(s)
            return RoomDriver(t, s)

        with ThreadPoolExecutor(8) as pool:
            drivers = list(pool.map(connect, rooms))
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda d: d.start(), drivers))
        time.sleep(0.5)
        threads = [threading.Thread(target=d.run, args=(moves, think, random.Random(i)), daemon=True)
                   for i, d in enumerate(drivers)]
        cpu0, wall0, me0 = sum(map(cpu_seconds, pids)), time.perf_counter(), cpu_seconds(os.getpid())
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=moves * think * 3 + 120)
        cpu1, wall1, me1 = sum(map(cpu_seconds, pids)), time.perf_counter(), cpu_seconds(os.getpid())
    finally:
        for p in players:
            try:
                p.close()
            except Exception:  # noqa: BLE001, S110 - closing best effort
                pass
    samples = [s for d in drivers for s in d.samples]
    failures = [f for d in drivers for f in d.failures]
    made = len(samples)
    return {
        "rooms": len(rooms), "moves": made, "failures": len(failures), "first_failure": failures[:1],
        "p50_ms": percentile(samples, 50) * 1000, "p99_ms": percentile(samples, 99) * 1000,
        "cpu_us_per_move": (cpu1 - cpu0) * 1e6 / made if made else float("nan"),
        "moves_per_s": made / (wall1 - wall0), "seconds": wall1 - wall0,
        # The clients share the machine's 2 cores with the server: their CPU per move, for reading the figures.
        "client_cpu_us_per_move": (me1 - me0) * 1e6 / made if made else float("nan"),
    }


# --- the benchmark ------------------------------------------------------------------------------


def main() -> int:
    from tests.support.servers import start_server

    levels = _levels()
    most = max(n for n, _m, _t in levels)
    work = workdir("relay")
    results: dict[str, list[dict]] = {"homeroom": [], "bare": []}
    servers = []
    drop = None
    pg = os.environ.get("BENCH_PG")  # a PostgreSQL server URL: use a database of our own there instead of SQLite
    try:
        print(f"relay: setting up {most} live rooms on {'PostgreSQL' if pg else 'SQLite'} ...", flush=True)
        t0 = time.perf_counter()
        if pg:
            url, drop = postgres_database(pg, work)
        else:
            url = migrated_sqlite(work)
        rooms = make_rooms(url, work / "outbox", most)
        env = dict(BENCH_LIMITS)
        profile = os.environ.get("BENCH_PROFILE")  # a path: run Homeroom under cProfile (bench/profiled_server.py)
        if profile:
            env["PROFILE_OUT"] = profile
        homeroom = start_server("eventlet", url, work / "homeroom", extra_env=env,
                                script=str(ROOT / "bench" / "profiled_server.py") if profile else "wsgi.py")
        servers.append(homeroom)
        bare = start_server("eventlet", url, work / "bare", script=str(ROOT / "bench" / "bare_relay.py"))
        servers.append(bare)
        cookies = seat_players(url, work / "outbox", rooms, homeroom.base_url)
        print(f"relay: setup took {time.perf_counter() - t0:.1f} s", flush=True)
        header = (f"{'server':<9} {'rooms':>5} {'moves':>6} {'fail':>4} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'CPU us/move':>11} {'moves/s':>8} {'client CPU us/move':>18}")
        print(header)
        for n, moves, think in levels:
            # Same level, one right after the other, so both see the same machine load.
            for name, server in (("homeroom", homeroom), ("bare", bare)):
                r = run_level(server.base_url, server.process.pid, rooms[:n], cookies, moves, think)
                r["think_s"] = think
                results[name].append(r)
                print(f"{name:<9} {r['rooms']:>5} {r['moves']:>6} {r['failures']:>4} {r['p50_ms']:>8.2f} "
                      f"{r['p99_ms']:>8.2f} {r['cpu_us_per_move']:>11.0f} {r['moves_per_s']:>8.1f} "
                      f"{r['client_cpu_us_per_move']:>18.0f}"
                      + (f"  first failure: {r['first_failure']}" if r["failures"] else ""), flush=True)
        print("\nratios Homeroom / bare relay (same run):")
        print(f"{'rooms':>5} {'p50':>6} {'p99':>6} {'CPU/move':>9}")
        for h, b in zip(results["homeroom"], results["bare"], strict=True):
            print(f"{h['rooms']:>5} {h['p50_ms'] / b['p50_ms']:>6.2f} {h['p99_ms'] / b['p99_ms']:>6.2f} "
                  f"{h['cpu_us_per_move'] / b['cpu_us_per_move']:>9.2f}")
        print(f"\nthink time per room uniform 0.5..1.5 x (rooms: mean s) {[(n, t) for n, _m, t in levels]}; "
              f"round trip = A emits move -> B sees the new version and A has its ack.")
        return 0
    except Exception:
        for server in servers:
            print(f"--- {server.log_path} (tail) ---\n{server.log()[-1500:]}")
        raise
    finally:
        for server in servers:
            server.stop()
        if drop is not None:
            drop()
        cleanup(work)


if __name__ == "__main__":
    raise SystemExit(main())
