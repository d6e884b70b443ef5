"""Shared helpers: percentiles, CPU time of a process from /proc, a migrated database, an app."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(p / 100 * len(ordered) + 0.4999))))
    return ordered[rank - 1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (all its threads) in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")" the fields start at field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"homeroom-bench-{name}-"))


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def make_app(database_url: str, outbox: Path):
    """The app in this process (threading mode, test profile) on `database_url`."""
    from app import create_app
    from config import TestConfig

    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, OUTBOX_DIR=str(outbox))


def migrated_sqlite(directory: Path) -> str:
    """A new SQLite file migrated to head (Alembic, as production), returned as a URL."""
    from flask_migrate import upgrade

    from app.extensions import db

    url = f"sqlite:///{directory / 'bench.sqlite3'}"
    app = make_app(url, directory / "outbox")
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url


def cheap_password_hash(password: str) -> str:
    """A real Argon2 hash with tiny costs: signing in stays fast; the server reads the costs from the hash."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def postgres_database(server: str, directory: Path):
    """A new database on the PostgreSQL `server` URL, migrated to head: (url, drop)."""
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from config import normalise_database_url

    name = f"homeroom_bench_{os.getpid()}_{int(time.time())}"
    admin = create_engine(make_url(normalise_database_url(server)), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalise_database_url(server)).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    from flask_migrate import upgrade

    from app.extensions import db

    try:
        app = make_app(url, directory / "outbox")
        with app.app_context():
            upgrade()
            db.engine.dispose()
    except BaseException:
        drop()
        raise
    return url, drop
