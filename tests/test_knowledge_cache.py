"""The built retriever kept on disk (knowledge/cache.py): same answers, rebuilt when anything it
depends on changes, never trusted when torn, safe when several processes start at once."""
from __future__ import annotations

import logging
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge import Retriever, load
from knowledge.cache import PREFIX, digest, load_retriever

FIXTURE = Path(__file__).with_name("kb_fixture")
ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["代办要收费吗", "施工许可证要什么材料", "帮办和代办有什么区别", "工程款被拖欠能起诉吗", "abc"]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(FIXTURE, d)
    return d


def _results(r: Retriever) -> list:
    return [(x.kind, x.topic, x.confidence) for x in map(r.search_uncached, QUESTIONS)]


def test_a_cached_retriever_answers_exactly_like_a_fresh_one(data_dir, tmp_path):
    cache = tmp_path / "cache"
    built = load_retriever(cache, data_dir)
    files = list(cache.glob(f"{PREFIX}*.pickle"))
    assert len(files) == 1
    loaded = load_retriever(cache, data_dir)
    assert loaded is not built
    assert _results(loaded) == _results(built) == _results(Retriever(load(data_dir)))
    # The analyzer came back with its own small dictionary, and cuts text as before.
    assert loaded.analyzer.terms("竣工验收备案表之外还要提交啥") == built.analyzer.terms("竣工验收备案表之外还要提交啥")


def test_editing_the_data_builds_a_new_cache_and_drops_the_old(data_dir, tmp_path):
    cache = tmp_path / "cache"
    load_retriever(cache, data_dir)
    before = digest(data_dir)
    entries = data_dir / "entries" / "service.yaml"
    entries.write_text(entries.read_text(encoding="utf-8") + "\n# a curator's comment\n", encoding="utf-8")
    assert digest(data_dir) != before
    load_retriever(cache, data_dir)
    names = [p.name for p in cache.glob(f"{PREFIX}*.pickle")]
    assert names == [f"{PREFIX}{digest(data_dir)}.pickle"]


def test_a_torn_cache_file_is_rebuilt_not_trusted(data_dir, tmp_path, caplog):
    cache = tmp_path / "cache"
    load_retriever(cache, data_dir)
    path = next(cache.glob(f"{PREFIX}*.pickle"))
    path.write_bytes(path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING, logger="knowledge.cache"):
        r = load_retriever(cache, data_dir)
    assert "unreadable" in caplog.text
    assert _results(r) == _results(Retriever(load(data_dir)))
    with path.open("rb") as f:
        assert isinstance(pickle.load(f), Retriever)  # and the whole file was written back


def test_no_cache_dir_builds_without_writing(data_dir, tmp_path):
    r = load_retriever("", data_dir)
    assert _results(r) == _results(Retriever(load(data_dir)))
    assert not (tmp_path / "cache").exists()


def test_a_read_only_cache_folder_costs_time_not_answers(data_dir, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    r = load_retriever(blocked / "cache", data_dir)
    assert r.search("代办要收费吗").topic == Retriever(load(data_dir)).search("代办要收费吗").topic


def test_workers_starting_at_once_all_get_a_whole_retriever(data_dir, tmp_path):
    cache = tmp_path / "cache"
    code = ("import sys; from pathlib import Path; from knowledge.cache import load_retriever;"
            "r = load_retriever(Path(sys.argv[1]), Path(sys.argv[2]));"
            "print(r.search_uncached('代办要收费吗').topic)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(cache), str(data_dir)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    expected = Retriever(load(data_dir)).search_uncached("代办要收费吗").topic
    assert {out.strip() for out, _ in outs} == {expected}
    assert len(list(cache.glob(f"{PREFIX}*.pickle"))) == 1
    assert not list(cache.glob(".tmp-*"))  # no torn temporary files left behind


def test_head_revision_read_from_the_files_is_alembics_head():
    from alembic.script import ScriptDirectory

    from bot.platform.db import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_a_current_sqlite_file_is_not_migrated_again(tmp_path, monkeypatch):
    from bot.platform import db

    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    db.open_database(url)  # creates and migrates
    calls = []
    monkeypatch.setattr(db, "upgrade", lambda u, revision="head": calls.append(u))
    db.open_database(url)
    assert calls == []
    monkeypatch.setattr(db, "head_revision", lambda: "9999")  # a newer migration shipped
    db.open_database(url)
    assert calls == [url]


def test_kb_build_fills_the_cache_for_the_workers(tmp_path):
    env = {**__import__("os").environ, "BANGBAN_CACHE_DIR": str(tmp_path / "cache"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    env.pop("REDIS_URL", None)
    out = subprocess.run([sys.executable, "-m", "webhook.cli", "kb", "build"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "classifier on" in out.stdout
    assert [p.name for p in (tmp_path / "cache").glob(f"{PREFIX}*.pickle")] == [f"{PREFIX}{digest()}.pickle"]


def test_the_shipped_kb_is_small_enough_for_its_topic_classifier(retriever):
    # Above classifier.MAX_WORK the retriever silently falls back to BM25 alone (it happened when the
    # seed-coverage round doubled the paraphrases): retune the limit or the classifier, knowingly.
    assert retriever.classifier is not None


def test_our_bytecode_is_written_even_where_python_would_not_write_it(tmp_path, monkeypatch):
    """scripts/install and `bangban kb build` compile our packages: this machine kind sets
    PYTHONDONTWRITEBYTECODE, and without bytecode every start compiled them again (~0.2 s)."""
    import importlib.util
    import os
    import time

    from webhook.cli.startup import compile_packages

    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge", ignore=shutil.ignore_patterns("__pycache__", "data"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    sources = sorted((tmp_path / "knowledge").rglob("*.py"))
    assert len(sources) > 5
    assert compile_packages(tmp_path, ("knowledge",))
    cached = {s: Path(importlib.util.cache_from_source(s)) for s in sources}
    assert all(p.is_file() for p in cached.values())
    # An edited module is compiled again; the others are left as they were.
    edited, other = sources[0], sources[1]
    before = {s: p.stat().st_mtime_ns for s, p in cached.items()}
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    later = time.time() + 5
    os.utime(edited, (later, later))
    assert compile_packages(tmp_path, ("knowledge",))
    assert cached[edited].stat().st_mtime_ns != before[edited]
    assert cached[other].stat().st_mtime_ns == before[other]
