"""A throwaway PostgreSQL cluster on a free 127.0.0.1 port, for tests that break the database.

The machine's shared PostgreSQL must never be restarted by a test: other people's runs use it.
`pg_cluster()` runs initdb into a new temporary directory, starts the cluster with pg_ctl (as the
`postgres` user when we are root: PostgreSQL refuses to run as root), yields a `PgCluster` whose
`restart()` / `stop()` / `start()` the test calls, and always stops the cluster and removes the
directory afterwards, whatever the test did.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import free_port


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries directory holding initdb and pg_ctl, if any."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0, reverse=True)
    for path in candidates:
        if os.access(Path(path) / "initdb", os.X_OK) and os.access(Path(path) / "pg_ctl", os.X_OK):
            return Path(path)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


class PgCluster:
    def __init__(self, bin_dir: Path, directory: Path, port: int, run_as: list[str]):
        self.bin_dir = bin_dir
        self.directory = directory
        self.data = directory / "data"
        self.log_path = directory / "postgres.log"
        self.port = port
        self._run_as = run_as
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.directory}"
                   " -c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        command = [*self._run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
                   "-o", options, "-w", "-t", str(int(timeout)), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 10, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        """pg_ctl restart -m fast: every session is terminated, then the server comes back."""
        self._pg_ctl("restart", "-m", mode)

    def is_running(self) -> bool:
        command = [*self._run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]
        return subprocess.run(command, capture_output=True, timeout=20, check=False).returncode == 0

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` and return its URL."""
        from sqlalchemy import create_engine, text

        from config import normalise_database_url

        admin = create_engine(normalise_database_url(self.url), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def pg_cluster():
    """A running throwaway cluster (user `postgres`, trust auth on 127.0.0.1 only); always removed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    directory = Path(tempfile.mkdtemp(prefix="homeroom-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL will not run as root: the cluster belongs to the `postgres` user.
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    cluster = PgCluster(bin_dir, directory, free_port(), run_as)
    try:
        result = subprocess.run(
            [*run_as, str(bin_dir / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust",
             "--no-sync", "-E", "UTF8", "--locale=C"],
            capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.data.exists() and cluster.is_running():
                cluster.stop("immediate")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
