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
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
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
    from bot import staff
    from bot.db import make_engine, make_sessionmaker, transaction, upgrade

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
        for server_url, name in self._pg_schemas:
            try:
                admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
                with admin.begin() as conn:
                    conn.execute(sa.text(f'drop schema if exists "{name}" cascade'))
                admin.dispose()
            except Exception:  # noqa: BLE001 - a server the fault tests left down: nothing to tidy
                pass


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
