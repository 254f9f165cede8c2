"""Migrated databases for tests, built once per run and copied into each test's own database.

Running Alembic to head is 0.15-0.35 s a test on SQLite and ~0.2 s on PostgreSQL, and the suite
does it a few hundred times. Instead each kind of starting point (the schema at head; the schema
plus the demo roster) is built once, by the same `upgrade` and `seed_demo_roster` the tests used
to run, and then copied:

- SQLite: the template file is copied with SQLite's backup API (a consistent copy even of a
  WAL-mode file), ~1 ms;
- PostgreSQL: each test has its own schema in the shared test database (conftest's postgres_url),
  and the URL must stay that schema's (tests pass database_url on to the code under test), so the
  template is a schema too: pg_dump of it, with its name replaced, is replayed into the test's
  schema, ~0.09 s. A template *database* (CREATE DATABASE ... TEMPLATE, ~0.04 s plus the drop)
  would give each test another URL than the database_url it asked for.

Each copy is the test's own: nothing one test writes is seen by another. Without pg_dump (or one
too old for the server) the PostgreSQL copy falls back to running the migrations in the schema.

The replay (~0.13 s of server work) and the drop of a finished test's schema (~0.04 s) need not
hold up the test: a background thread keeps a few copies of each template replayed ahead under
names of their own (pool_*), and a test's fill drops its empty schema and renames a ready copy
to its name (a few ms: every object in it refers to the others by OID, not by schema name); the
thread also drops finished tests' schemas. With nothing ready (or the server restarting) the
fill replays the dump itself, as before.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import uuid
from collections import deque
from contextlib import closing
from pathlib import Path
from unittest import mock

KINDS = ("schema", "roster")  # Alembic head; head plus the demo roster (conftest.STAFF_PASSWORD)


def cheap_password_hash(password: str) -> str:
    """werkzeug's default scrypt takes ~0.1 s a hash: tests that sign staff in use this one."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def _build(url: str, kind: str, password: str) -> None:
    """What a test used to do to its empty database: migrate, and for "roster" seed the roster."""
    from bot.people import staff
    from bot.platform.db import make_engine, make_sessionmaker, transaction, upgrade

    upgrade(url)
    if kind == "roster":
        engine = make_engine(url)
        try:
            with mock.patch.object(staff, "generate_password_hash", cheap_password_hash), \
                    transaction(make_sessionmaker(engine)) as db:
                staff.seed_demo_roster(db, password=password)
        finally:
            engine.dispose()


def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


_SCHEMA_OPTION = re.compile(r"[?&]options=-csearch_path%3D(\w+)$")  # as conftest's postgres_url adds it


def schema_of(url: str) -> tuple[str, str]:
    """(the server's URL, the schema) of a per-test schema URL."""
    found = _SCHEMA_OPTION.search(url)
    assert found, f"not a per-test schema URL: {url}"
    return url[:found.start()], found[1]


class Templates:
    """The run's templates, made on first use (a narrow run pays only for what it needs)."""

    def __init__(self, password: str):
        self.password = password
        self._folder: Path | None = None
        self._sqlite: dict[str, Path] = {}
        self._pg: dict[tuple[str, str], tuple[str, str] | None] = {}  # (server, kind) -> (name, dump)
        self._pg_schemas: list[tuple[str, str]] = []     # (server, schema) to drop at the end
        self._ready: dict[tuple[str, str], deque[str]] = {}  # (server, kind) -> replayed copies
        self._pending: dict[tuple[str, str], int] = {}       # copies being replayed
        self._to_drop: set[tuple[str, str]] = set()          # finished tests' schemas, not yet dropped
        self._lock = threading.Lock()
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()  # (priority, n, job): copies first
        self._submitted = 0
        self._worker: threading.Thread | None = None
        self._engines: dict[str, object] = {}                # server -> engine (renames, drops)

    # -- SQLite ------------------------------------------------------------------------------
    def fill_sqlite(self, url: str, kind: str) -> None:
        if kind not in self._sqlite:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="bangban-templates-"))
            path = self._folder / f"{kind}.sqlite3"
            _build(f"sqlite:///{path}", kind, self.password)
            self._sqlite[kind] = path
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(f"file:{self._sqlite[kind]}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst)

    # -- PostgreSQL --------------------------------------------------------------------------
    def fill_postgres(self, url: str, kind: str) -> None:
        import sqlalchemy as sa

        server_url, schema = schema_of(url)
        key = (server_url, kind)
        if key not in self._pg:
            self._pg[key] = self._dump_template(server_url, kind)
        if self._pg[key] is None:  # no usable pg_dump: migrate this schema as the test used to
            _build(url, kind, self.password)
            return
        name, dump = self._pg[key]
        try:
            if self._take_ready_copy(key, schema):
                return
            _replay(server_url, name, dump, schema)
        finally:
            self._refill(key)

    def _take_ready_copy(self, key: tuple[str, str], schema: str) -> bool:
        """Give `schema` (the test's, empty) a copy replayed ahead: drop it, rename the copy."""
        import sqlalchemy as sa

        with self._lock:
            ready = self._ready.get(key)
            copy = ready.popleft() if ready else None
        if copy is None:
            return False
        try:
            with self.engine(key[0]).begin() as conn:
                conn.execute(sa.text(f'drop schema "{schema}" cascade'))
                conn.execute(sa.text(f'alter schema "{copy}" rename to "{schema}"'))
            return True
        except sa.exc.SQLAlchemyError:  # the server restarting: replay instead
            with self._lock:
                self._to_drop.add((key[0], copy))
            return False

    POOL = 2  # copies of each template kept replayed ahead

    def _refill(self, key: tuple[str, str]) -> None:
        with self._lock:
            wanted = self.POOL - len(self._ready.setdefault(key, deque())) - self._pending.get(key, 0)
            self._pending[key] = self._pending.get(key, 0) + max(wanted, 0)
        for _ in range(wanted):
            self._submit(lambda: self._replay_ahead(key), priority=0)

    def _replay_ahead(self, key: tuple[str, str]) -> None:
        import sqlalchemy as sa

        server_url, kind = key
        copy = f"pool_{kind}_{uuid.uuid4().hex[:12]}"
        try:
            with self.engine(server_url).begin() as conn:
                conn.execute(sa.text(f'create schema "{copy}"'))
            try:
                name, dump = self._pg[key]
                _replay(server_url, name, dump, copy)
            except Exception:
                with self._lock:
                    self._to_drop.add((server_url, copy))
                raise
            with self._lock:
                self._ready[key].append(copy)
        finally:
            with self._lock:
                self._pending[key] -= 1

    def drop_later(self, server_url: str, schema: str) -> None:
        """Drop a finished test's schema from the background thread."""
        with self._lock:
            self._to_drop.add((server_url, schema))
        self._submit(lambda: self._drop(server_url, schema), priority=1)

    def _drop(self, server_url: str, schema: str) -> None:
        import sqlalchemy as sa

        with self.engine(server_url).begin() as conn:
            conn.execute(sa.text("set local lock_timeout = '10s'"))  # a test still holding it: later
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        with self._lock:
            self._to_drop.discard((server_url, schema))

    def engine(self, server_url: str):
        """One pooled engine per server for schema DDL (the fixtures' and this thread's)."""
        import sqlalchemy as sa

        with self._lock:
            if server_url not in self._engines:
                # pre-ping: the fault tests restart the server under it
                self._engines[server_url] = sa.create_engine(server_url, pool_pre_ping=True, pool_size=2)
            return self._engines[server_url]

    def _submit(self, job, priority: int) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="db-templates", daemon=True)
                self._worker.start()
            self._submitted += 1
            self._jobs.put((priority, self._submitted, job))

    def _work(self) -> None:
        while (job := self._jobs.get()[2]) is not None:
            try:
                job()
            except Exception:  # noqa: BLE001 - a server restarting: what it left is dropped at close
                pass

    def _dump_template(self, server_url: str, kind: str) -> tuple[str, str] | None:
        import sqlalchemy as sa

        name = f"tpl_{kind}_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
        with admin.begin() as conn:
            conn.execute(sa.text(f'create schema "{name}"'))
        admin.dispose()
        self._pg_schemas.append((server_url, name))
        sep = "&" if "?" in server_url else "?"
        _build(f"{server_url}{sep}options=-csearch_path%3D{name}", kind, self.password)
        dump = _pg_dump(server_url, name)
        return None if dump is None else (name, dump)

    # -- the end of the run ------------------------------------------------------------------
    def close(self) -> None:
        import sqlalchemy as sa

        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        if self._worker is not None:
            self._jobs.put((2, 0, None))  # after every job queued
            self._worker.join(timeout=120)
        with self._lock:
            leftovers = [*self._to_drop, *((server, name) for (server, _), names in self._ready.items()
                                           for name in names)]
        for server_url, name in [*leftovers, *self._pg_schemas]:
            try:
                admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
                with admin.begin() as conn:
                    conn.execute(sa.text(f'drop schema if exists "{name}" cascade'))
                admin.dispose()
            except Exception:  # noqa: BLE001 - a server the fault tests left down: nothing to tidy
                pass
        for engine in self._engines.values():
            engine.dispose()


def _replay(server_url: str, name: str, dump: str, schema: str) -> None:
    """Run template `name`'s dump into the existing, empty `schema`."""
    import sqlalchemy as sa

    # NullPool: the dump resets search_path for its connection, which must not be reused.
    admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            # The driver's own execute: without parameters psycopg sends the whole script as
            # is (no placeholder parsing), and several statements may go at once.
            driver = conn.connection.driver_connection
            driver.execute(re.sub(rf"\b{name}\b", schema, dump))
            driver.commit()
    finally:
        admin.dispose()


def _pg_dump(server_url: str, schema: str) -> str | None:
    """The schema's DDL and rows as SQL (schema-qualified names); None without a usable pg_dump."""
    import sqlalchemy as sa

    if shutil.which("pg_dump") is None:
        return None
    u = sa.engine.make_url(server_url)
    env = {**os.environ, **({"PGPASSWORD": u.password} if u.password else {})}
    cmd = ["pg_dump", "--schema", schema, "--inserts", "--no-owner", "--no-privileges",
           "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-d", u.database or "postgres"]
    if u.username:
        cmd += ["-U", u.username]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        return None
    return "\n".join(line for line in r.stdout.splitlines()
                     # psql meta-commands (\restrict) are not SQL; the test's schema exists already.
                     if not line.startswith("\\") and not line.startswith("CREATE SCHEMA "))
