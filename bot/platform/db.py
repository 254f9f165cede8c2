"""Engine, sessions and schema migrations (Alembic, run programmatically).

The embedded SQLite file is upgraded on first start; PostgreSQL is upgraded with
`bangban db upgrade` as a deploy step, so several workers never race on a migration.
"""
from __future__ import annotations

import re
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parents[1] / "migrations"  # the schema is the domain's, not the platform's
PG_CONNECT_TIMEOUT_S = 3


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
            # another writer got in between; taking the write lock up front makes it wait instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A database that does not answer (host down, packets dropped) must fail a request in seconds,
    # not hang it for the OS's two minutes: callers degrade (consultation answers without it).
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory.begin() as session:
        yield session


def relaxed_durability(session: Session) -> None:
    """For writes whose loss in a crash costs nothing (analytics): on PostgreSQL, commit without
    waiting for the WAL flush. Never use it for submissions, ledger lines or notifications."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    if url.startswith("sqlite"):
        make_engine(url).dispose()  # creates the directory for the file
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


_REVISION_RE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w-]+|None)['\"]?", re.M)


def head_revision() -> str | None:
    """The newest migration's id, read from the version files' own `revision`/`down_revision`
    lines: knowing whether a file is current then needs neither Alembic nor its imports."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION_RE.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None  # several heads: let Alembic complain


def _sqlite_is_current(url: str) -> bool:
    import sqlite3

    path = url.split("///", 1)[-1]
    if not path or path == ":memory:" or not Path(path).exists():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("select version_num from alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == head_revision()


def open_database(url: str) -> sessionmaker[Session]:
    """Sessions for `url`. The embedded SQLite file is created and upgraded on first use (a
    current file is recognised without loading Alembic: a third of `bangban ask`'s start);
    PostgreSQL is upgraded by the deploy step (`bangban db upgrade`), never by a worker."""
    if url.startswith("sqlite") and not _sqlite_is_current(url):
        upgrade(url)
    return make_sessionmaker(make_engine(url))
