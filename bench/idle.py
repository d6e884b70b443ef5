"""Memory per idle connection and reconnection after a server restart (issue 8, benchmark 5).

BENCH_IDLE (default 1,000) Socket.IO clients (WebSocket) connect to `/games` of 10 live rooms
(therapist and student sockets alternately, each with its real session cookie, as in
bench/relay.py) and stay idle; the server's resident memory (VmRSS in /proc/<pid>/status) is read
before they connect and 5 s after the last one has; the difference over the number of clients is
the memory per idle connection. The same clients then do the same against bench/bare_relay.py.
Then, for Homeroom only: the same clients connect with python-socketio's reconnection (backoff
0.5 s doubling to 5 s, +-50 % jitter), the server is stopped and started again on the same port
and database, and the time until every client is connected to `/games` again is measured, from
the stop and from the moment the new server answers HTTP.

    python -m bench idle
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import ROOT, cleanup, migrated_sqlite, workdir
from bench.relay import BENCH_LIMITS, Player, make_rooms, seat_players

ROOMS = 10


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(base: str, pid: int, rooms: list[dict], cookies: dict, n: int) -> dict:
    players: list[Player] = []
    failures = []
    before = rss_kb(pid)

    def connect(i):
        room = rooms[i % len(rooms)]
        role = "therapist" if i % 2 == 0 else "student"
        try:
            players.append(Player(base, room["id"], role, cookies.get("therapist" if role == "therapist" else room["id"])))
        except Exception as exc:  # noqa: BLE001 - counted
            failures.append(repr(exc))

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(connect, range(n)))
        connect_seconds = time.perf_counter() - started
        time.sleep(5)
        after = rss_kb(pid)
        connected = sum(1 for p in players if p.client.connected)
    finally:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: p.close(), players))
    return {"connected": connected, "failed": len(failures), "first_failure": failures[:1], "rss_before_mb": before / 1024,
            "rss_after_mb": after / 1024, "kb_per_conn": (after - before) / max(connected, 1),
            "connect_s": connect_seconds}


def reconnect(server, url: str, work, env: dict, rooms: list[dict], cookies: dict, n: int) -> tuple[dict, object]:
    """Stop and restart `server` under the clients' feet; returns the figures and the new server."""
    from tests.support.servers import start_server

    port = int(server.base_url.rsplit(":", 1)[1])
    players: list[Player] = []

    def connect(i):
        room = rooms[i % len(rooms)]
        role = "therapist" if i % 2 == 0 else "student"
        players.append(Player(server.base_url, room["id"], role,
                              cookies.get("therapist" if role == "therapist" else room["id"]), reconnection=True))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(connect, range(n)))
    try:
        stopped = time.perf_counter()
        server.stop()
        new = start_server("eventlet", url, work / "homeroom-restarted", port=port, extra_env=env, timeout=60)
        up = time.perf_counter()
        deadline = up + 60
        while time.perf_counter() < deadline:
            back = sum(1 for p in players if p.connects >= 2)
            if back == len(players):
                break
            time.sleep(0.05)
        done = time.perf_counter()
        back = sum(1 for p in players if p.connects >= 2)
        return {"clients": len(players), "back": back, "from_stop_s": done - stopped, "from_up_s": done - up,
                "restart_s": up - stopped}, new
    finally:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: p.close(), players))


def main() -> int:
    from tests.support.servers import start_server

    n = int(os.environ.get("BENCH_IDLE", "1000"))
    work = workdir("idle")
    servers = []
    try:
        url = migrated_sqlite(work)
        rooms = make_rooms(url, work / "outbox", ROOMS)
        env = dict(BENCH_LIMITS)
        homeroom = start_server("eventlet", url, work / "homeroom", extra_env=env)
        servers.append(homeroom)
        bare = start_server("eventlet", url, work / "bare", script=str(ROOT / "bench" / "bare_relay.py"))
        servers.append(bare)
        cookies = seat_players(url, work / "outbox", rooms, homeroom.base_url)
        print(f"{'server':<9} {'clients':>7} {'failed':>6} {'RSS before MB':>13} {'RSS after MB':>12} "
              f"{'KB/conn':>8} {'connect s':>9}")
        for name, server in (("homeroom", homeroom), ("bare", bare)):
            r = measure(server.base_url, server.process.pid, rooms, cookies, n)
            print(f"{name:<9} {r['connected']:>7} {r['failed']:>6} {r['rss_before_mb']:>13.1f} {r['rss_after_mb']:>12.1f} "
                  f"{r['kb_per_conn']:>8.1f} {r['connect_s']:>9.1f}"
                  + (f"  first failure: {r['first_failure']}" if r["failed"] else ""), flush=True)
        r, restarted = reconnect(homeroom, url, work, env, rooms, cookies, n)
        servers.append(restarted)
        print(f"\nhomeroom restart: {r['back']} of {r['clients']} clients back on /games {r['from_up_s']:.1f} s after "
              f"the new server answered ({r['from_stop_s']:.1f} s after the stop; the restart itself took "
              f"{r['restart_s']:.1f} s)", flush=True)
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
