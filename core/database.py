"""The service's database: SQLite in one file under the model store by default, PostgreSQL when the
database_url setting names one. `connect(settings)` gives an engine whose schema is at the latest
migration (core/migrations/), whichever process asks first.

SQLite runs in WAL mode with synchronous=FULL (an acknowledged write survives a crash of the process
or the machine), and every write transaction starts with BEGIN IMMEDIATE, so two processes never
both read and then both try to write. WAL needs shared memory between the processes that open the
file, which a network file system does not give: SQLite is refused where stacks share the store.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text

from core.errors import ConfigurationError
from core.settings import Settings

log = logging.getLogger(__name__)

SQLITE_FILE = "sentiment.sqlite3"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# pg_advisory_lock's key: any fixed 64-bit number the service's own migrations agree on.
MIGRATION_LOCK_KEY = 0x5E47_1E47
NETWORK_FILE_SYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "fuse.sshfs",
                        "fuse.glusterfs", "9p", "efs")


def url_of(settings: Settings) -> str:
    """The SQLAlchemy URL the settings name (psycopg 3 for PostgreSQL), or the default SQLite file.
    Raises ConfigurationError for SQLite on a store that several stacks share."""
    if settings.database_url:
        url = settings.database_url
        for scheme in ("postgres://", "postgresql://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme):]
        return url
    path = settings.model_store / SQLITE_FILE
    file_system = _file_system_of(settings.model_store)
    if settings.replicas > 1 or file_system in NETWORK_FILE_SYSTEMS:
        why = f"replicas is {settings.replicas}" if settings.replicas > 1 else f"the store is on {file_system}"
        raise ConfigurationError(
            f"the default SQLite database cannot be shared by several stacks ({why}): SQLite's WAL needs one "
            f"machine's shared memory. Set SENTIMENT_DATABASE_URL to a PostgreSQL database "
            f"(postgresql://user:password@host/db); README \"Deploying\".")
    return f"sqlite:///{path}"


def connect(settings: Settings, migrate: bool = True) -> Engine:
    """An engine for the settings' database, migrated to the latest schema (unless `migrate` is
    False: a process that only reads, after the gateway has migrated)."""
    url = url_of(settings)
    if url.startswith("sqlite"):
        settings.model_store.mkdir(parents=True, exist_ok=True)
        # check_same_thread: the gateway writes from a thread pool (gateway/blocking.py)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
    if migrate:
        upgrade(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # pysqlite's own BEGINs off: _sqlite_begin issues them
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction (on SQLite a deferred one, which does not take the write lock)."""
    with engine.connect() as connection:
        connection = connection.execution_options(read_only=True)
        with connection.begin():
            yield connection


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest migration. Every gateway worker and replica may call this at
    start: a lock (PostgreSQL's advisory lock, or a file lock beside the SQLite file) lets one
    migrate while the others wait, then find nothing left to do."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _migration_lock(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
    elif engine.dialect.name == "sqlite" and engine.url.database:
        with open(f"{engine.url.database}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
    else:
        yield


def _file_system_of(path: Path) -> str | None:
    """The type of the file system `path` is on (its longest mount point in /proc/mounts)."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return None
    path = Path(path).resolve()
    best = max((m for m in mounts if path.is_relative_to(m[0])), key=lambda m: len(m[0]), default=None)
    return best[1] if best else None
