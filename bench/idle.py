"""Memory per idle connection and reconnection after a server restart (issue 8, benchmark 5).

BENCH_IDLE (default 1,000) Socket.IO clients (WebSocket) connect to `/games` of 10 live rooms
(therapist and student sockets alternately, each with its real session cookie, as in
bench/relay.py) and stay idle; the server's resident memory (VmRSS in /proc/<pid>/status) is read
before they connect and 5 s after the last one has; the difference over the number of clients is
the memory per idle connection. Before that, BENCH_IDLE_WARMUP (default 50) clients connect and
leave, against each server alike: what the first connections cost once (SQL statements compiled
and cached, SQLite's page cache filled, modules imported on first use) is not a cost per
connection (BENCH_IDLE_WARMUP=0 measures as sessions 12 and 13 did). The server's CPU time
(utime + stime) over the connects, divided by them, is its CPU per connect. The same clients
then do the same against bench/bare_relay.py.

Then, for Homeroom only, a reconnect storm: the same clients stay connected while the server is
stopped (SIGTERM) and started again on the same port and database; the time until every client
is connected to `/games` again is measured from the stop, beside the moment the new server accepts
TCP connections (its start-up time) and the server's CPU per reconnect. The clients reconnect as
the browser pages do (`BrowserBackoff`, mirroring static/js/{games,call,waiting}.js and
socket.io-client 4.8): the first attempt after one backoff delay, each attempt waiting for the
server's answer (no give-up after a second, as python-socketio's own reconnection does).

    python -m bench idle
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import ROOT, cleanup, cpu_seconds, migrated_sqlite, percentile, workdir
from bench.relay import BENCH_LIMITS, Player, make_rooms, seat_players

ROOMS = 10

#: The browser pages' reconnection options (static/js/games.js, call.js, waiting.js), in seconds.
RECONNECTION_DELAY = 1.0
RECONNECTION_DELAY_MAX = 5.0
RANDOMIZATION_FACTOR = 0.5
#: socket.io-client's Manager gives up opening a connection after `timeout` (20 s by default); a
#: namespace's CONNECT then waits for the server's answer however long it takes.
OPEN_TIMEOUT = 20.0


class BrowserBackoff:
    """socket.io-client 4.8's Backoff (build/esm/contrib/backo2.js), as its Manager uses it: the
    attempt-th delay is RECONNECTION_DELAY * 2**attempt, moved down or up by up to
    RANDOMIZATION_FACTOR of itself (one random number picks both the size and the direction),
    then capped at RECONNECTION_DELAY_MAX. Reset after a successful reconnection."""

    def __init__(self) -> None:
        self.attempts = 0

    def duration(self) -> float:
        delay = RECONNECTION_DELAY * 2 ** self.attempts
        self.attempts += 1
        rand = random.random()
        deviation = int(rand * RANDOMIZATION_FACTOR * delay * 1000) / 1000
        delay = delay - deviation if int(rand * 10) & 1 == 0 else delay + deviation
        return min(delay, RECONNECTION_DELAY_MAX)


class ReconnectingPlayer(Player):
    """A Player whose lost connection is re-opened as a browser page does (BrowserBackoff), with
    the time of each (re)connect to /games and the attempts made."""

    def __init__(self, base: str, room_id: int, role: str, cookie: str | None):
        self.connected_at: list[float] = []
        self.attempts = 0
        self.closing = False
        self._args = (base, room_id, cookie)
        super().__init__(base, room_id, role, cookie)
        self.client.on("disconnect", self._lost, namespace="/games")
        # python-socketio's client gives up opening a connection after 5 s; the browser after 20 s.
        self.client.eio.request_timeout = OPEN_TIMEOUT

    def _connected(self, *_args):
        self.connected_at.append(time.perf_counter())
        super()._connected()

    def _lost(self, *_args):
        if not self.closing:
            threading.Thread(target=self._reconnect, daemon=True).start()

    def _reconnect(self):
        base, room_id, cookie = self._args
        backoff = BrowserBackoff()
        while not self.closing:
            time.sleep(backoff.duration())
            if self.closing:
                return
            self.attempts += 1
            try:
                self.client.connect(base, namespaces=["/games"], auth={"room": room_id, "role": self.role},
                                    transports=["websocket"], headers={"Cookie": cookie} if cookie else {},
                                    wait_timeout=OPEN_TIMEOUT)
                return
            except Exception:  # noqa: BLE001, S112 - refused while the server is down: back off, try again
                continue

    def close(self):
        self.closing = True
        super().close()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_listening(port: int, timeout: float = 60) -> float:
    """perf_counter() at which 127.0.0.1:port first accepts a TCP connection."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return time.perf_counter()
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on {port}")


def measure(base: str, pid: int, rooms: list[dict], cookies: dict, n: int, warm_up: int = 0) -> dict:
    players: list[Player] = []
    failures = []

    def connect(i):
        room = rooms[i % len(rooms)]
        role = "therapist" if i % 2 == 0 else "student"
        try:
            players.append(Player(base, room["id"], role, cookies.get("therapist" if role == "therapist" else room["id"])))
        except Exception as exc:  # noqa: BLE001 - counted
            failures.append(repr(exc))

    if warm_up:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(connect, range(warm_up)))
            list(pool.map(lambda p: p.close(), players))
        players.clear()
        time.sleep(2)
    before = rss_kb(pid)
    started, cpu_before = time.perf_counter(), cpu_seconds(pid)
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(connect, range(n)))
        connect_seconds, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
        time.sleep(5)
        after = rss_kb(pid)
        connected = sum(1 for p in players if p.client.connected)
    finally:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: p.close(), players))
    return {"connected": connected, "failed": len(failures), "first_failure": failures[:1], "rss_before_mb": before / 1024,
            "rss_after_mb": after / 1024, "kb_per_conn": (after - before) / max(connected, 1),
            "connect_s": connect_seconds, "cpu_ms_per_conn": cpu * 1000 / max(len(players), 1)}


def reconnect(server, url: str, work, env: dict, rooms: list[dict], cookies: dict, n: int) -> tuple[dict, object]:
    """Stop and restart `server` under the clients' feet; returns the figures and the new server."""
    from tests.support.servers import start_server

    port = int(server.base_url.rsplit(":", 1)[1])
    players: list[ReconnectingPlayer] = []

    def connect(i):
        room = rooms[i % len(rooms)]
        role = "therapist" if i % 2 == 0 else "student"
        players.append(ReconnectingPlayer(server.base_url, room["id"], role,
                                          cookies.get("therapist" if role == "therapist" else room["id"])))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(connect, range(n)))
    try:
        stopped = time.perf_counter()
        server.stop()
        gone = time.perf_counter()
        listening: list[float] = []
        poll = threading.Thread(target=lambda: listening.append(wait_listening(port)), daemon=True)
        poll.start()
        new = start_server("eventlet", url, work / "homeroom-restarted", port=port, extra_env=env, timeout=60)
        poll.join(5)
        up = listening[0] if listening else time.perf_counter()
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and not all(len(p.connected_at) >= 2 for p in players):
            time.sleep(0.02)
        back_at = sorted(p.connected_at[1] - stopped for p in players if len(p.connected_at) >= 2)
        return {"clients": len(players), "back": len(back_at), "restart_s": up - stopped, "stop_s": gone - stopped,
                "p50_s": percentile(back_at, 50), "p90_s": percentile(back_at, 90),
                "from_stop_s": back_at[-1] if back_at else float("nan"),
                "attempts": sum(p.attempts for p in players),
                "cpu_s": cpu_seconds(new.process.pid)}, new
    finally:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: p.close(), players))


def main() -> int:
    from tests.support.servers import start_server

    n = int(os.environ.get("BENCH_IDLE", "1000"))
    warm_up = int(os.environ.get("BENCH_IDLE_WARMUP", "50"))
    work = workdir("idle")
    servers = []
    try:
        url = migrated_sqlite(work)
        rooms = make_rooms(url, work / "outbox", ROOMS)
        env = dict(BENCH_LIMITS)
        homeroom = start_server("eventlet", url, work / "homeroom", extra_env=env)
        servers.append(homeroom)
        startup_cpu = cpu_seconds(homeroom.process.pid)  # imports, create_app, one page
        bare = start_server("eventlet", url, work / "bare", script=str(ROOT / "bench" / "bare_relay.py"))
        servers.append(bare)
        cookies = seat_players(url, work / "outbox", rooms, homeroom.base_url)
        print(f"{warm_up} clients connected and left first (warm-up)")
        print(f"{'server':<9} {'clients':>7} {'failed':>6} {'RSS before MB':>13} {'RSS after MB':>12} "
              f"{'KB/conn':>8} {'connect s':>9} {'CPU ms/connect':>13}")
        for name, server in (("homeroom", homeroom), ("bare", bare)):
            r = measure(server.base_url, server.process.pid, rooms, cookies, n, warm_up)
            print(f"{name:<9} {r['connected']:>7} {r['failed']:>6} {r['rss_before_mb']:>13.1f} {r['rss_after_mb']:>12.1f} "
                  f"{r['kb_per_conn']:>8.1f} {r['connect_s']:>9.1f} {r['cpu_ms_per_conn']:>13.2f}"
                  + (f"  first failure: {r['first_failure']}" if r["failed"] else ""), flush=True)
        r, restarted = reconnect(homeroom, url, work, env, rooms, cookies, n)
        servers.append(restarted)
        print(f"\nhomeroom restart: {r['back']} of {r['clients']} clients back on /games {r['from_stop_s']:.1f} s "
              f"after the stop (half of them by {r['p50_s']:.1f} s, 90 % by {r['p90_s']:.1f} s); the new server "
              f"listened {r['restart_s']:.1f} s after the stop (the old one took {r['stop_s']:.1f} s to exit); "
              f"{r['attempts']} reconnection attempts; server CPU {r['cpu_s']:.1f} s, of which start-up "
              f"~{startup_cpu:.1f} s (as the first server's): {(r['cpu_s'] - startup_cpu) * 1000 / n:.2f} ms "
              f"per reconnect", flush=True)
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
