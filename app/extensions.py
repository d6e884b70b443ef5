"""Extensions, created unbound and bound in create_app()."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
mail = Mail()
babel = Babel()
socketio = SocketIO()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite files (development, small installs; production runs PostgreSQL): write-ahead
    logging, so readers never wait for the writer and a commit appends to the log instead of
    rewriting the journal; synchronous=NORMAL, so a commit does not wait for fsync (in WAL mode
    the database cannot be corrupted by a crash; a power cut can lose the last commits); and a
    busy timeout, so a second writer waits up to 5 s instead of failing at once. Each commit used
    to take ~1.2 ms with an fsync, during which eventlet's hub is blocked (docs/BENCHMARKS.md)."""
    if not type(dbapi_connection).__module__.startswith("sqlite3"):
        return
    files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list") if row[1] == "main"]
    if not files or not files[0]:  # in-memory database: nothing to set
        return
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    dbapi_connection.execute("PRAGMA busy_timeout=5000")
