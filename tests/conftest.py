"""Shared fixtures: the real Redis and PostgreSQL on 127.0.0.1 plus the embedded defaults.

A laptop without the servers skips those tests with a visible reason; under CI=true a missing
server is a failure, never a skip, so CI cannot go green by testing less.
"""
from __future__ import annotations

import functools
import os
import re
import tempfile
import uuid
from pathlib import Path

import pytest
from db_templates import Templates, cheap_password_hash


def _temporary_files_in_memory() -> None:
    """tmp_path, the templates and the subprocesses' temporary files on a tmpfs (/dev/shm) when
    TMPDIR does not say otherwise: every SQLite database of the run lives there, and on a disk
    each Alembic run, WAL checkpoint and file created waits for an fsync (an upgrade took 0.14-0.8 s
    on /tmp against 0.07-0.15 s on /dev/shm). What is written and read is the same; only the
    durability the tests never look at (surviving a power cut) is gone. BANGBAN_TEST_TMPDIR
    names another place (a disk, to test on one)."""
    chosen = os.environ.get("BANGBAN_TEST_TMPDIR") or (
        None if os.environ.get("TMPDIR") else "/dev/shm")
    if chosen and os.path.isdir(chosen) and os.access(chosen, os.W_OK | os.X_OK):
        os.environ["TMPDIR"] = chosen  # subprocesses too (their jieba cache, pip's, Chromium's)
        tempfile.tempdir = None  # gettempdir() may have been answered already (pytest's capture)


_temporary_files_in_memory()


def _jieba_dictionary_read_once() -> None:
    """Every knowledge.text.Analyzer makes its own jieba.Tokenizer, whose first use reads jieba's
    whole dictionary from its cache file (~0.9 s, 500k words): the suite builds some thirty
    retrievers in this process (each build is what those tests test). Read it once; every
    Tokenizer of the default dictionary then starts from its own copy of that (~0.05 s): the
    same words and frequencies the file holds, in a dict of its own to add words to or shrink.
    Subprocesses read the file as before. Only for the jieba this was written against."""
    import jieba

    if jieba.__version__ != "0.42.1":
        return
    original = jieba.Tokenizer.initialize
    read: list = []  # (FREQ, total) of the default dictionary, never handed out itself

    def initialize(self, dictionary=None):
        if dictionary or self.dictionary != jieba.DEFAULT_DICT or self.cache_file or self.tmp_dir:
            return original(self, dictionary)
        with self.lock:
            if self.initialized:
                return
            if not read:
                first = jieba.Tokenizer()
                original(first)
                read.append((first.FREQ, first.total))
            self.FREQ, self.total = dict(read[0][0]), read[0][1]
            self.initialized = True

    jieba.Tokenizer.initialize = initialize


_jieba_dictionary_read_once()

REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_TEST_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(what: str, err: Exception):
    reason = f"{what} not reachable ({err.__class__.__name__}: {err})"
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true this must run, not skip", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except Exception as err:  # noqa: BLE001 - any failure means "not here"
        _unavailable("Redis at " + REDIS_TEST_URL, err)
    return REDIS_TEST_URL


@pytest.fixture()
def redis_client(redis_url):
    """A Redis client on the test database, flushed before and after each test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_TEST_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001
        _unavailable("PostgreSQL at " + POSTGRES_TEST_URL, err)
    return POSTGRES_TEST_URL


@pytest.fixture()
def postgres_url(postgres_server_url):
    """A fresh, empty schema on the real PostgreSQL for one test, dropped afterwards (by the
    templates' background thread: nothing waits for it)."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    with TEMPLATES.engine(postgres_server_url).begin() as conn:  # pre-pinged: survives a restart
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in postgres_server_url else "?"
    yield f"{postgres_server_url}{sep}options=-csearch_path%3D{schema}"
    _close_query_logs()  # their last rows go in before the schema goes
    TEMPLATES.drop_later(postgres_server_url, schema)


def _close_query_logs():
    from bot.supervision import kb_log

    kb_log.close_all()


@pytest.fixture(autouse=True)
def _query_logs_closed_after_each_test():
    """Each dialog manager's query log runs a writer thread: stop them with the test that made
    them, so threads and database connections do not pile up over the suite."""
    yield
    _close_query_logs()


@pytest.fixture()
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'bangban.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request) -> str:
    """Run a storage test against both the embedded default and the real PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


# The five-entry fixture KB (tests/kb_fixture) cannot reach the real KB's calibrated confidence;
# tests of conversation and protocol mechanics use it with thresholds that answer clear matches.
FIXTURE_THRESHOLDS = dict(answer=0.3, clarify=0.1)


def own_retriever(built, kb=None, thresholds=None):
    """A retriever of its own around `built`'s index: what building `built` again would give
    (its KB, unless `kb` names the caller's equal one; its thresholds, unless given), with an
    empty search memo. The index (term postings, classifier, the analyzer's dictionary) is never
    written after it is built, so nothing one test does to its retriever is seen by another."""
    from knowledge import Retriever

    own = Retriever.__new__(Retriever)
    own.__setstate__({**built.__getstate__(), **({"kb": kb} if kb is not None else {})})
    own.thresholds = thresholds if thresholds is not None else built.thresholds  # a fresh memo too
    return own


_FIXTURE_RETRIEVERS: list = []  # (a deep copy of the KB it was built from, the retriever)


def fixture_retriever(fixture_kb):
    """A retriever of `fixture_kb` with FIXTURE_THRESHOLDS: what Retriever(fixture_kb, ...) gives.

    Each build loads jieba's dictionary and cuts it down (~1.2 s), and test_webhook and
    test_dialogs make one per test, several in some. So the index is built once per distinct KB
    (compared by content, against a copy the tests cannot alter) and each call gets its own
    retriever around it (own_retriever): the caller's KB object, its own thresholds and an empty
    search memo, as a fresh build would have."""
    import copy

    from knowledge import Retriever, Thresholds

    for kb, built in _FIXTURE_RETRIEVERS:
        if kb == fixture_kb:
            break
    else:
        built = Retriever(fixture_kb, thresholds=Thresholds(**FIXTURE_THRESHOLDS))
        _FIXTURE_RETRIEVERS.append((copy.deepcopy(fixture_kb), built))
    return own_retriever(built, kb=fixture_kb, thresholds=Thresholds(**FIXTURE_THRESHOLDS))


@pytest.fixture(scope="session")
def kb():
    """The shipped knowledge base, loaded once for the whole run."""
    from knowledge import load

    return load()


class _IndexBuild:
    """The shipped KB's retriever, built by knowledge.cache (what `bangban kb build` and every
    worker run) in a subprocess started once the collected tests are known to need it: ~8 s of
    work that the second core does while the first tests run, instead of the first test that
    asks for it waiting. The folder is then a knowledge cache (BANGBAN_CACHE_DIR) holding it."""

    def __init__(self):
        self.folder: str | None = None
        self.proc = None

    def start(self) -> None:
        import subprocess
        import sys

        if self.folder is not None:
            return
        self.folder = tempfile.mkdtemp(prefix="bangban-kb-cache-")
        code = "import sys; from knowledge.cache import load_retriever; load_retriever(sys.argv[1])"
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", code, self.folder], cwd=Path(__file__).parents[1],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self.proc = None  # built in this process when first needed

    def ready_folder(self) -> str:
        """The folder, once the build is done (or started and done here, if it never ran)."""
        self.start()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=600)
            except Exception:  # noqa: BLE001 - hung or gone: the in-process load below builds
                self.proc.kill()
        return self.folder

    def close(self) -> None:
        import shutil

        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


INDEX_BUILD = _IndexBuild()


@pytest.fixture(scope="session")
def kb_cache_dir() -> str:
    """A knowledge cache (BANGBAN_CACHE_DIR) holding the shipped KB's retriever: a `bangban`
    subprocess given it loads the index in ~0.3 s instead of building it (~8 s). The file is the
    one knowledge.cache writes for this KB and code (a subprocess running knowledge.cache wrote
    it), so what the subprocess answers with is unchanged. If that build failed or the KB or the
    code changed since, loading it here builds and writes the current one, as a worker would."""
    from knowledge.cache import load_retriever

    folder = INDEX_BUILD.ready_folder()
    load_retriever(folder)  # a no-op read when the build is current
    return folder


@pytest.fixture(scope="session")
def retriever(kb, kb_cache_dir):
    """Its retriever, as a worker loads it from the cache (tests/test_knowledge_cache.py: it answers
    exactly as a fresh build), holding the session's `kb` itself when that is the same KB."""
    from knowledge.cache import load_retriever

    loaded = load_retriever(kb_cache_dir)
    if loaded.kb == kb:
        loaded.kb = kb
    return loaded


@functools.cache
def fixture_kb_retriever():
    """The five-entry fixture KB's retriever with the default thresholds, built once: each build
    loads jieba's dictionary (~1.5 s), and the console tests need it only to have an app."""
    from knowledge import Retriever, load

    return Retriever(load(Path(__file__).with_name("kb_fixture")))


@pytest.fixture()
def fast_password_hashes(monkeypatch):
    """werkzeug's default scrypt takes ~0.1 s a hash; seeding the demo roster in every test would
    dominate the run. Tests that sign staff in use a cheap hash (test_console checks the real one).
    So does the hash an unknown username is checked against (as long as a real one, so that no
    reply comes sooner for a name that does not exist): scrypt, ~0.17 s a failed sign-in."""
    from bot.people import staff

    monkeypatch.setattr(staff, "generate_password_hash", cheap_password_hash)
    monkeypatch.setattr(staff, "_DUMMY_HASH", _CHEAP_DUMMY_HASH)


_CHEAP_DUMMY_HASH = cheap_password_hash("not-a-real-password-just-timing")


STAFF_PASSWORD = "correct-horse-9"
# Migrated databases (and the demo roster) built once per run, copied into each test's own.
TEMPLATES = Templates(password=STAFF_PASSWORD)


@pytest.fixture(scope="session", autouse=True)
def _templates_dropped_at_the_end():
    yield
    TEMPLATES.close()


def fill_database(url: str, kind: str = "schema") -> None:
    """Bring one test's empty database (sqlite_url's file, postgres_url's schema) to Alembic head,
    and for kind "roster" add the demo roster (password STAFF_PASSWORD, cheap hashes), by copying
    a template: what `upgrade(url)` (and seed_demo_roster) would leave, in a fraction of the time."""
    if url.startswith("sqlite"):
        TEMPLATES.fill_sqlite(url, kind)
    else:
        TEMPLATES.fill_postgres(url, kind)


def migrated(url: str) -> str:
    """`url`, where an SQLite file not made yet is first made as open_database would make it on
    the app's first start (migrated to head), by copying the template; an existing file (a second
    app on the same database) and every other URL are left as they are. For tests that start an
    app on a fresh sqlite_url: what they see is unchanged, without an Alembic run each."""
    if url.startswith("sqlite") and not Path(url.split("///", 1)[1]).exists():
        fill_database(url)
    return url


def _catalogue():
    from bot.casework import cases
    from bot.platform.workdays import load_calendar

    return (load_calendar(),
            cases.ItemPlan("construction_permit", "建筑工程施工许可证核发", "住房和城乡建设部门", "3", 7),
            cases.ItemPlan("drawing_review", "施工图审查", "住房和城乡建设部门", "3", 10))


# The shipped holiday calendar and two approval items most case tests build on.
CAL, PERMIT, DRAWINGS = _catalogue()


@pytest.fixture()
def db_sessions(database_url):
    """Sessions on a migrated database (SQLite and PostgreSQL); tests add their own rows."""
    from bot.platform.db import make_engine, make_sessionmaker

    fill_database(database_url)
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def console_app_on(database_url: str):
    """The app with the fixture KB and the demo roster (every password STAFF_PASSWORD) on one
    empty database, disposed afterwards (a generator for fixtures to yield from)."""
    from bot.platform.config import Settings
    from bot.platform.kv import MemoryKV
    from dialogs import build_manager
    from webhook import create_app

    fill_database(database_url, "roster")
    settings = Settings(database_url=database_url)
    retriever = fixture_kb_retriever()
    manager = build_manager(settings, kb=retriever.kb, kv=MemoryKV(), retriever=retriever)
    app = create_app(settings, manager=manager)
    yield app
    manager.sessions.kw["bind"].dispose()


@pytest.fixture()
def console_app(database_url, fast_password_hashes):
    """console_app_on SQLite and PostgreSQL: what the staff-console and API tests sign in to."""
    yield from console_app_on(database_url)


# A flash message on a console page: (kind, text).
FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>([^<]+)</p>')


def db_of(app):
    """A transaction on the app's database (the console and API tests' way to look or set up)."""
    from bot.platform.db import transaction

    return transaction(app.extensions["bangban_dialogs"].sessions)


@pytest.hookimpl(trylast=True)  # after -k/-m have deselected what will not run
def pytest_collection_modifyitems(config, items):
    """Fault tests restart the shared Redis and PostgreSQL: run them after everything else. And
    when a test will need the shipped KB's retriever, its build starts now, in the background."""
    items.sort(key=lambda item: item.get_closest_marker("faults") is not None)
    if any({"retriever", "kb_cache_dir"} & set(getattr(item, "fixturenames", ())) for item in items):
        INDEX_BUILD.start()


def pytest_unconfigure(config):
    INDEX_BUILD.close()
