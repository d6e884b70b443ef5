"""Cross-process game moves through Redis (issue 8, benchmark 2).

Two Homeroom servers (wsgi.py, eventlet) share one migrated SQLite file and one Redis message
queue (REDIS_URL=redis://127.0.0.1:6379/9 by default: a database number of the benchmark's
own; Socket.IO's queue uses pub/sub channels, it stores no keys). In every room the therapist's
socket is on server A and the student's on server B, so every `game` broadcast reaches the other
player through Redis. Same client code and round trip as bench/relay.py.

  * paced: 50 rooms, 16 moves each, about one move per second per room (as relay.py's 50 rooms);
  * burst: 200 rooms x 25 moves = 5,000 moves with no think time (each room waits only for its
    own previous move): every move must be delivered to the other process, and the servers'
    logs must hold no publish error (no Redis pool exhaustion, no traceback).

    python -m bench redis
    BENCH_REDIS_URL=redis://127.0.0.1:6379/9 python -m bench redis
"""

from __future__ import annotations

import os
import time

from bench.common import cleanup, migrated_sqlite, workdir
from bench.relay import BENCH_LIMITS, make_rooms, run_level, seat_players

LEVELS = [("paced", 50, 16, 1.0), ("burst", 200, 25, 0.0)]
ERROR_WORDS = ("Traceback", "ConnectionError", "Too many connections", "Error while reading", "publish")


def main() -> int:
    from tests.support.servers import start_server

    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    most = max(n for _l, n, _m, _t in LEVELS)
    work = workdir("redis")
    servers = []
    try:
        print(f"redis: {most} rooms, servers A and B on {redis_url}", flush=True)
        url = migrated_sqlite(work)
        rooms = make_rooms(url, work / "outbox", most)
        env = {"REDIS_URL": redis_url, **BENCH_LIMITS}
        a = start_server("eventlet", url, work / "a", extra_env=env)
        servers.append(a)
        b = start_server("eventlet", url, work / "b", extra_env=env)
        servers.append(b)
        cookies = seat_players(url, work / "outbox", rooms, a.base_url, student_base=b.base_url)
        print(f"{'level':<6} {'rooms':>5} {'sent':>5} {'delivered':>9} {'fail':>4} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'CPU us/move (A+B)':>17} {'moves/s':>8} {'client CPU us/move':>18}")
        for label, n, moves, think in LEVELS:
            r = run_level(a.base_url, [a.process.pid, b.process.pid], rooms[:n], cookies, moves, think,
                          student_base=b.base_url)
            print(f"{label:<6} {r['rooms']:>5} {n * moves:>5} {r['moves']:>9} {r['failures']:>4} {r['p50_ms']:>8.2f} "
                  f"{r['p99_ms']:>8.2f} {r['cpu_us_per_move']:>17.0f} {r['moves_per_s']:>8.1f} "
                  f"{r['client_cpu_us_per_move']:>18.0f}"
                  + (f"  first failure: {r['first_failure']}" if r["failures"] else ""), flush=True)
        time.sleep(1)
        for name, server in (("A", a), ("B", b)):
            text = server.log_path.read_text(errors="replace")
            hits = [line for line in text.splitlines() if any(w in line for w in ERROR_WORDS)]
            print(f"server {name} log: {len(hits)} error lines" + (f", first: {hits[0][:200]}" if hits else ""))
        return 0
    except Exception:
        for server in servers:
            print(f"--- {server.log_path} (tail) ---\n{server.log()[-1500:]}")
        raise
    finally:
        for server in servers:
            server.stop()
        cleanup(work)


if __name__ == "__main__":
    raise SystemExit(main())
