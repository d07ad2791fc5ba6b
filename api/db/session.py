"""The database: SQLite under the data dir by default, any SQLAlchemy URL (PostgreSQL) by setting;
the schema is brought to the latest Alembic revision when the service starts."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(data_dir: Path, url: str | None) -> str:
    return url or f"sqlite:///{Path(data_dir) / 'hostscore.db'}"


# Connections kept open per process: a request holds one from authentication to its response, and the
# API serves up to anyio's 40 threads at once. With SQLAlchemy's default 5, ten concurrent status reads
# opened and closed an overflow connection each (SQLite's pragmas included): 4.1 ms of API CPU per read.
POOL_SIZE = 20


@lru_cache(maxsize=8)
def engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        made = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=POOL_SIZE)

        @event.listens_for(made, "connect")
        def _sqlite_pragmas(connection, _):
            # WAL: readers do not wait for the worker's writes; foreign keys: deletes cascade
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")

        return made
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE)


def migrate(url: str) -> None:
    """Bring the database to the latest revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@lru_cache(maxsize=8)
def _sessions(url: str) -> sessionmaker:
    return sessionmaker(engine(url), expire_on_commit=False)


@contextmanager
def session(url: str):
    """A session committed on success, rolled back on error."""
    with _sessions(url)() as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
