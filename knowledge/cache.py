"""The built retriever, kept on disk so a process starts in a fraction of the time.

Building it means parsing the YAML (0.7 s), cutting ~2k questions with jieba's full dictionary
(0.9 s to load) and training the topic classifier (0.3-0.9 s); `bangban ask` and every gunicorn
worker paid that at start. The pickle of the result loads in well under 0.1 s.

The file's name carries a digest of everything the result depends on: every file under the data
folder, the source of this package, and the versions of Python, numpy and jieba. Editing the KB
or the code therefore builds a new one; nothing has to be invalidated by hand, and a stale
file is never read. Several workers starting at once may each build and write: each writes its
own temporary file and renames it into place, so a reader only ever sees a whole file. A file
that cannot be read (another Python, a disk error) is rebuilt, never trusted.

The cache folder must be as private as the code: unpickling runs what the file says.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import platform
import tempfile
from pathlib import Path

from .loader import DATA_DIR, load
from .retriever import Retriever

log = logging.getLogger(__name__)
_PACKAGE = Path(__file__).resolve().parent
PREFIX = "retriever-"


def digest(data_dir: Path = DATA_DIR) -> str:
    import jieba
    import numpy

    h = hashlib.sha256()
    h.update(f"{platform.python_version()} numpy {numpy.__version__} jieba {jieba.__version__} "
             f"pickle {pickle.HIGHEST_PROTOCOL}".encode())
    for root, label in ((Path(data_dir), "data"), (_PACKAGE, "code")):
        pattern = "**/*" if label == "data" else "*.py"
        for path in sorted(p for p in root.glob(pattern) if p.is_file()):
            h.update(f"{label}:{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:24]


def build(data_dir: Path = DATA_DIR) -> Retriever:
    return Retriever(load(data_dir))


def load_retriever(cache_dir: Path | str | None, data_dir: Path = DATA_DIR) -> Retriever:
    """The retriever for `data_dir` (its KB is `.kb`), from `cache_dir` when a current copy is
    there, else built and stored there. `cache_dir` None or "" builds without caching."""
    if not cache_dir:
        return build(data_dir)
    folder = Path(cache_dir)
    path = folder / f"{PREFIX}{digest(data_dir)}.pickle"
    try:
        with path.open("rb") as f:
            retriever = pickle.load(f)
        if isinstance(retriever, Retriever):
            return retriever
        log.warning("knowledge cache %s holds no retriever: rebuilding", path)
    except FileNotFoundError:
        pass
    except Exception as err:  # a torn or foreign file is rebuilt, never trusted
        log.warning("knowledge cache %s unreadable (%s): rebuilding", path, err)
    retriever = build(data_dir)
    try:
        _store(folder, path, retriever)
    except OSError as err:  # a read-only disk costs start-up time, nothing else
        log.warning("knowledge cache not written to %s: %s", folder, err)
    return retriever


def _store(folder: Path, path: Path, retriever: Retriever) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(retriever, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old state or the whole file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for old in folder.glob(f"{PREFIX}*.pickle"):  # earlier versions of the KB or the code
        if old != path:
            old.unlink(missing_ok=True)
