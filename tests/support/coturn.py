"""A real coturn (`turnserver`, Debian's package: `make coturn`) on 127.0.0.1 for relay tests.

It uses coturn's TURN REST scheme (`use-auth-secret` + `static-auth-secret`), the same one
Homeroom's app/sessions/turn.py issues credentials for. Everything is bound to 127.0.0.1:
listening, relaying and the only peer address coturn will relay to.

Loopback peers: coturn refuses to relay to 127.x and ::1 unless `allow-loopback-peers` is set.
A relay test on one machine needs exactly that (both peers' relay addresses are 127.0.0.1), so
it is set here, and every other IPv4 address (and IPv6 loopback, global, ULA and link-local) is
put in `denied-peer-ip`: this
server can relay to 127.0.0.1 and nothing else. Never copy this configuration to production;
docs/DEPLOYMENT.md has the production one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import stop_process

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
LOOPBACK = "127.0.0.1"


def _free_port_pair() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((LOOPBACK, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((LOOPBACK, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free TCP+UDP port on 127.0.0.1")


def turnserver_available() -> bool:
    return Path(TURNSERVER).is_file() and os.access(TURNSERVER, os.X_OK)


@dataclass
class Coturn:
    port: int
    secret: str
    realm: str
    workdir: Path
    process: subprocess.Popen

    @property
    def log_path(self) -> Path:
        return self.workdir / "turnserver.log"

    @property
    def udp_url(self) -> str:
        return f"turn:{LOOPBACK}:{self.port}?transport=udp"

    @property
    def tcp_url(self) -> str:
        return f"turn:{LOOPBACK}:{self.port}?transport=tcp"

    @property
    def urls(self) -> list[str]:
        return [self.udp_url, self.tcp_url]

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a Homeroom server that should use this TURN server."""
        return {"TURN_URLS": ",".join(self.urls), "TURN_SECRET": self.secret, "STUN_URLS": "", **extra}

    def log(self) -> str:
        # coturn names its log file after the given path (it may add a date); read what is there.
        texts = [p.read_text(errors="replace") for p in sorted(self.workdir.glob("turnserver*.log"))]
        return "".join(texts)[-6000:]

    def stop(self) -> None:
        stop_process(self.process)


LOOPBACK_ONLY_PEER_RULES = [
    # Loopback only: allow 127.x as peers, then deny every other address, so the one peer
    # this test server will relay to is 127.0.0.1.
    "allow-loopback-peers",
    "denied-peer-ip=0.0.0.0-126.255.255.255",
    "denied-peer-ip=127.0.0.0",
    "denied-peer-ip=127.0.0.2-255.255.255.255",
    # The relay socket is IPv4 (relay-ip), so IPv6 peers are unreachable anyway; deny them too.
    # (A single "::-ffff:…" range would also match IPv4 addresses in coturn 4.6, 127.0.0.1 included.)
    "denied-peer-ip=::1",
    "denied-peer-ip=2000::-3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "denied-peer-ip=fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "denied-peer-ip=fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]


def config_text(port: int, secret: str, realm: str, workdir: Path, peer_rules: list[str] | None = None) -> str:
    lines = [
        f"listening-ip={LOOPBACK}",
        f"relay-ip={LOOPBACK}",
        f"listening-port={port}",
        "no-tls",
        "no-dtls",
        "use-auth-secret",
        f"static-auth-secret={secret}",
        f"realm={realm}",
        "fingerprint",
        "no-cli",
        "no-multicast-peers",
        *(LOOPBACK_ONLY_PEER_RULES if peer_rules is None else peer_rules),
        "user-quota=12",
        "total-quota=100",
        "stale-nonce=600",
        f"log-file={workdir / 'turnserver.log'}",
        "simple-log",
        "no-stdout-log",
        f"pidfile={workdir / 'turnserver.pid'}",
        f"userdb={workdir / 'turndb.sqlite'}",
        "verbose",
    ]
    return "\n".join(lines) + "\n"


def start_coturn(workdir: Path, *, secret: str = "test-turn-secret", realm: str = "homeroom.test",
                 peer_rules: list[str] | None = None, timeout: float = 15) -> Coturn:
    """Start coturn; `peer_rules` replaces the loopback-only peer policy (e.g. production's list)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port_pair()
    conf = workdir / "turnserver.conf"
    conf.write_text(config_text(port, secret, realm, workdir, peer_rules))
    # -c: only our file, never /etc/turnserver.conf.
    process = subprocess.Popen([TURNSERVER, "-c", str(conf)], cwd=workdir, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = Coturn(port=port, secret=secret, realm=realm, workdir=workdir, process=process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"turnserver exited with {process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise AssertionError(f"turnserver did not start listening on {port}:\n{server.log()}")


@contextmanager
def running_coturn(workdir: Path, **kwargs):
    server = start_coturn(workdir, **kwargs)
    try:
        yield server
    finally:
        server.stop()
