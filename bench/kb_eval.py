"""Knowledge-base retrieval quality and speed on a labelled set of natural questions.

    .venv/bin/python bench/kb_eval.py              # metrics with the shipped thresholds
    .venv/bin/python bench/kb_eval.py --errors     # also list every miss
    .venv/bin/python bench/kb_eval.py --set f      # the blind set F (B-E were studied or tuned on)
    .venv/bin/python bench/kb_eval.py --calibrate  # fit confidence + thresholds on A-E

Metrics (targets from issue 3):
  top-1 accuracy      answerable questions whose best candidate is the right topic   (>= 95%)
  answered correctly  ... and the bot answered directly (no menu)
  confidently wrong   questions the bot answered directly with a wrong topic, or answered
                      although the KB cannot answer them, over all questions        (<= 2%)
  abstention          answerable questions the bot said it was unsure about
  unanswerable recognised   unanswerable questions the bot did not answer directly  (>= 80%)
Latency: one lookup, p50/p99, on the real KB and on a synthetic 10k-entry KB (p99 < 5 ms).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge import KnowledgeBase, Retriever, Thresholds, load  # noqa: E402
from knowledge.schema import Entry, Source  # noqa: E402

EVAL_FILE = Path(__file__).with_name("data") / "kb_eval.yaml"
# Written later by someone who saw neither set A nor the paraphrases: the blind measure.
TEST_B = Path(__file__).with_name("data") / "kb_test_b.yaml"
# Written on 2026-11-24 from a list of topic titles and answers only, without sight of the
# paraphrases, sets A and B or the code; nothing was tuned on it.
TEST_C = Path(__file__).with_name("data") / "kb_test_c.yaml"
# Written later the same day the same way (several writing personas each), D while curators studied
# C's misses, E while they studied D's, F after E had been used for calibration: F is the blind measure.
TEST_D = Path(__file__).with_name("data") / "kb_test_d.yaml"
TEST_E = Path(__file__).with_name("data") / "kb_test_e.yaml"
TEST_F = Path(__file__).with_name("data") / "kb_test_f.yaml"
# Keyword-labelled sets written from the seeds and research notes alone (bench/blind_eval.py): G was
# scored once blind (2026-12-02) and is now development data; so is H; I is the next blind measure.
BLIND_G = Path(__file__).with_name("data") / "kb_blind_g.yaml"
# H: written the same way, scored once blind after round 1 (2026-12-02), then studied in round 2.
BLIND_H = Path(__file__).with_name("data") / "kb_blind_h.yaml"


@dataclass(frozen=True)
class Case:
    q: str
    expect: str | None
    region: str | None


def load_cases(path: Path = EVAL_FILE) -> list[Case]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Case(str(c["q"]), c.get("expect"), c.get("region")) for c in raw]


@dataclass
class Scores:
    n: int
    answerable: int
    top1: float
    answered_correct: float
    clarified: float
    menu_has_right: float
    abstained: float
    confidently_wrong: float
    unanswerable_recognised: float
    unanswerable_strict: float
    misses: list

    def lines(self) -> list[str]:
        pct = lambda x: f"{100 * x:5.1f}%"  # noqa: E731
        return [
            f"questions                {self.n} ({self.answerable} answerable, {self.n - self.answerable} not)",
            f"top-1 accuracy           {pct(self.top1)}   (target >= 95%)",
            f"answered correctly       {pct(self.answered_correct)}",
            f"clarification menu       {pct(self.clarified)}   (right topic in the menu: {pct(self.menu_has_right)} of menus)",
            f"abstention (answerable)  {pct(self.abstained)}",
            f"confidently wrong        {pct(self.confidently_wrong)}   (target <= 2%)",
            f"unanswerable recognised  {pct(self.unanswerable_recognised)}   (target >= 80%; "
            f"{pct(self.unanswerable_strict)} with an outright 'not sure')",
        ]


# Topics that say honestly that nobody publishes the answer (fee amounts, a person's phone, other
# provinces): for a question the KB cannot answer, being answered by one of them is recognising it.
HONEST_TAG = "无公开答案"


def honest_topics(kb: KnowledgeBase) -> set[str]:
    return {t for t, entries in kb.topics.items() if any(HONEST_TAG in e.tags for e in entries)}


def evaluate(retriever: Retriever, cases: list[Case]) -> Scores:
    honest = honest_topics(retriever.kb)
    answerable = [c for c in cases if c.expect]
    unanswerable = [c for c in cases if not c.expect]
    top1 = answered_ok = clarified = menu_right = abstained = wrong = recog = strict = 0
    misses = []
    for c in cases:
        r = retriever.search(c.q)
        if c.expect:
            top1 += r.topic == c.expect
            if r.kind == "answer":
                answered_ok += r.topic == c.expect
                wrong += r.topic != c.expect
            clarified += r.kind == "clarify"
            menu_right += r.kind == "clarify" and c.expect in {x.topic for x in r.candidates}
            abstained += r.kind == "unsure"
            if r.topic != c.expect or r.kind != "answer":
                misses.append((c, r))
        else:
            answered = r.kind == "answer" and r.topic not in honest
            wrong += answered
            recog += not answered
            strict += r.kind == "unsure" or (r.kind == "answer" and r.topic in honest)
            if answered:
                misses.append((c, r))
    na, nu = max(1, len(answerable)), max(1, len(unanswerable))
    return Scores(len(cases), len(answerable), top1 / na, answered_ok / na, clarified / na,
                  menu_right / max(1, clarified), abstained / na,
                  wrong / max(1, len(cases)), recog / nu, strict / nu, misses)


def feature_rows(retriever: Retriever, cases: list[Case]) -> tuple[list[tuple[float, ...]], list[float]]:
    """(1, *features) of each question's top result, and whether that top topic is right."""
    shipped = retriever.thresholds
    retriever.thresholds = replace(shipped, answer=0.0)  # every result an answer: no menu filtering
    honest = honest_topics(retriever.kb)
    xs, ys = [], []
    try:
        for c in cases:
            terms = retriever.analyzer.terms(c.q)
            r = retriever.search(c.q)
            if not r.candidates:
                continue
            top = retriever.topics.index(r.candidates[0].topic)
            xs.append((1.0, *retriever.features(terms, top, r.candidates)))
            ys.append(1.0 if (r.topic == c.expect if c.expect else r.topic in honest) else 0.0)
    finally:
        retriever.thresholds = shipped
    return xs, ys


def fit_weights(rows: list[tuple[list[tuple[float, ...]], list[float]]]) -> tuple[float, ...]:
    """Logistic regression (plain gradient descent) of "the top topic is right" on the features."""
    import numpy as np

    x = np.asarray([v for xs, _ in rows for v in xs])
    y = np.asarray([v for _, ys in rows for v in ys])
    w = np.zeros(x.shape[1])
    for _ in range(20000):
        p = 1 / (1 + np.exp(-x @ w))
        w -= 0.1 * (x.T @ (p - y) / len(y) + 1e-3 * np.r_[0, w[1:]])
    return tuple(round(float(v), 3) for v in w)


HOLDOUT_FOLDS = 5


def holdout_folds(kb: KnowledgeBase, folds: int = HOLDOUT_FOLDS) -> list[tuple[KnowledgeBase, list[Case]]]:
    """The KB without every `folds`-th paraphrase, and those paraphrases as questions: asked of a
    KB that does not contain them, they are the KB's own near misses (about 80 % top-1)."""
    out = []
    for fold in range(folds):
        entries, held = [], []
        for e in kb.entries:
            held += [Case(p, e.topic, None) for i, p in enumerate(e.paraphrases) if i % folds == fold]
            entries.append(replace(e, paraphrases=tuple(p for i, p in enumerate(e.paraphrases) if i % folds != fold)))
        out.append((KnowledgeBase(entries, kb.regions, kb.stages, kb.items, kb.lexicon), held))
    return out


# Confidently wrong allowed on the tuning sets. Blind sets come out 1-1.5 points more confidently
# wrong than the sets a threshold is tuned on, so this stays well under the 2 % target. It was 0.5 %
# until the seed-coverage round (2026-12-02) added 35 topics: the older sets' labels predate them
# (「某县级市代办员每个镇有几个」 is labelled service.organizer, and service.staffing now answers it),
# so about 1 % of their "confidently wrong" is no longer wrong, and 0.5 % could only be met by
# answering a fifth fewer questions. Measured through the whole pipeline on G (bench/blind_eval.py),
# the sweep's answer 0.82 / lone 0.70 answers 91 % right with 1.3 % wrong; 0.98 / 0.85 answered 78 %
# with 0.4 %. (Eleven items of A-E whose answer a seed-coverage topic now gives were relabelled.)
TUNE_WRONG_MAX = 0.01

# A menu holding the right topic is worth half an answer; one without it (or for a question the
# KB cannot answer) costs as much, since the user reads it for nothing. Its expected value is then
# positive once P(right topic in the menu) > 0.5, and that probability is at least the confidence
# (P(top topic right)): so a menu from confidence 0.5 up, by that argument rather than by a sweep
# over the handful of menus set A produces (too few to pin a second threshold down).
CLARIFY = 0.5


def calibrate(retriever: Retriever, cases: list[Case]) -> Thresholds:
    """Fit the confidence models and pick the thresholds on `cases` (sets A-E); the blind set F
    is measured separately (--set f) and neither step sees it.

    The logistic weights are fitted on `cases` (set A) plus the KB's held-out paraphrases
    (holdout_folds): set A, written against an earlier KB whose gaps the curators have since
    filled, has become too easy to teach the model what a near miss looks like (a three-way tie
    between topics, a rare word the winner lacks), and the ~1,300 hold-out questions are full of
    them. The answer threshold is then swept on `cases` alone, the users' own wording;
    the menu threshold follows from the confidence being a probability (CLARIFY).
    Also fits the BM25-only model that KBs too big for the classifier use."""
    kb, analyzer = retriever.kb, retriever.analyzer
    folds = holdout_folds(kb)
    with_classifier = [feature_rows(retriever, cases)]
    bm25_alone = [feature_rows(Retriever(kb, analyzer, classifier=False), cases)]
    for fold_kb, held in folds:
        with_classifier.append(feature_rows(Retriever(fold_kb, analyzer), held))
        bm25_alone.append(feature_rows(Retriever(fold_kb, analyzer, classifier=False), held))
    th = replace(retriever.thresholds, weights=fit_weights(with_classifier), bm25_weights=fit_weights(bm25_alone))
    # Confidence does not depend on the thresholds, nor the menu's content: search once, then sweep.
    retriever.thresholds = replace(th, answer=2.0, clarify=0.0)  # every result a menu
    honest = honest_topics(retriever.kb)
    outcomes = []
    for c in cases:
        r = retriever.search(c.q)
        # A menu that would hold one option is answered instead (tentatively): in the menu band it
        # counts as an answer, right or wrong.
        lone = (r.kind == "answer" and r.tentative) or (r.kind == "unsure" and len(r.candidates) == 1)
        menu_right = bool(c.expect) and c.expect in {x.topic for x in r.candidates} and not lone
        right = r.topic == c.expect if c.expect else r.topic in honest  # an honest "nobody publishes it"
        outcomes.append((c.expect, right, menu_right, r.confidence, lone))
    n = max(1, len(cases))
    na = max(1, sum(1 for e, *_ in outcomes if e))
    nu = max(1, sum(1 for e, *_ in outcomes if not e))
    best, best_key = th, None
    grid = [(a / 100, pl / 100) for a in range(50, 100, 2) for pl in range(50, 100, 5) if pl <= a]
    for answer, plausible in grid:
        clarify = min(CLARIFY, answer)
        answered = lambda p, lone: p >= answer or (lone and p >= plausible)  # noqa: E731
        ok_answers = sum(1 for e, right, _, p, lone in outcomes if e and right and answered(p, lone))
        wrong = sum(1 for e, right, _, p, lone in outcomes if answered(p, lone) and not right)
        menus_right = sum(1 for _, _, has, p, lone in outcomes if has and not lone and clarify <= p < answer)
        menus_useless = sum(1 for _, _, has, p, lone in outcomes if not has and not lone and clarify <= p < answer)
        recognised = sum(1 for e, right, _, p, lone in outcomes if not e and (right or not answered(p, lone)))
        # Being confidently wrong is the worst outcome; then recognise what we cannot answer;
        # then answer as much as possible directly, menus counted as CLARIFY explains. Where no
        # threshold meets both targets, the least confidently wrong one wins.
        ok = wrong / n <= TUNE_WRONG_MAX and recognised / nu >= 0.8
        value = (ok_answers + 0.5 * menus_right - 0.5 * menus_useless) / na
        key = (ok, value if ok else -wrong / n, -wrong / n)
        if best_key is None or key > best_key:
            best, best_key = replace(th, answer=answer, clarify=clarify, plausible=plausible), key
    retriever.thresholds = best
    return best


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def time_lookups(retriever: Retriever, questions: list[str], rounds: int) -> tuple[float, float]:
    for q in questions[:20]:
        retriever.search(q)  # warm caches
    samples = []
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            retriever.search_uncached(q)  # the cost of scoring, not of remembering
            samples.append((time.perf_counter() - t0) * 1000)
    return percentiles(samples)


def synthetic_kb(kb: KnowledgeBase, n_entries: int, seed: int = 7) -> KnowledgeBase:
    """A 10k-entry KB made of the real vocabulary, so postings are as dense as real ones would be."""
    rng = random.Random(seed)
    analyzer = Retriever(kb).analyzer
    vocab = sorted({w for e in kb.entries for q in e.questions for w in analyzer.terms(q).words})
    source = (Source(title="synthetic"),)
    entries = list(kb.entries)
    for i in range(n_entries - len(entries)):
        qs = tuple("".join(rng.sample(vocab, rng.randint(3, 7))) for _ in range(6))
        entries.append(Entry(id=f"syn.e{i}", topic=f"syn.e{i}", title=qs[0], question=qs[1], paraphrases=qs[2:],
                             answer="".join(rng.sample(vocab, 30)), sources=source))
    return KnowledgeBase(entries, kb.regions, kb.stages, kb.items, kb.lexicon)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit the confidence model and thresholds on sets A-E; measure on F with --set f")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--set", choices=["a", "b", "c", "d", "e", "f"], default="a",
                    help="a = kb_eval.yaml (tuned on), b-e = later sets since studied or tuned on, f = the blind set")
    ap.add_argument("--no-classifier", action="store_true", help="BM25 alone (for comparison)")
    ap.add_argument("--kb", type=Path, default=None, help="knowledge-base directory (default: the shipped one)")
    args = ap.parse_args()

    kb = load(args.kb) if args.kb else load()
    chosen = {"a": EVAL_FILE, "b": TEST_B, "c": TEST_C, "d": TEST_D, "e": TEST_E, "f": TEST_F}[args.set]
    cases = load_cases(chosen)
    warm = Retriever(kb, classifier=False)  # loads jieba's dictionary, which the timings below share
    t0 = time.perf_counter()
    Retriever(kb, warm.analyzer, classifier=False)
    t1 = time.perf_counter()
    retriever = Retriever(kb, warm.analyzer, classifier=not args.no_classifier)
    t2 = time.perf_counter()
    n_questions = len({q for e in kb.entries for q in e.questions})
    shown = chosen
    print(f"knowledge base: {len(kb.entries)} entries, {len(kb.topics)} topics, ~{n_questions} questions; "
          f"eval set: {shown.relative_to(Path.cwd()) if shown.is_relative_to(Path.cwd()) else shown}")
    print(f"index built in {t1 - t0:.2f} s (BM25), {t2 - t1:.2f} s "
          f"({'with' if retriever.classifier else 'without'} the topic classifier)")
    if args.calibrate:
        dev = {name: load_cases(path) for name, path in (("A", EVAL_FILE), ("B", TEST_B), ("C", TEST_C),
                                                         ("D", TEST_D), ("E", TEST_E))}
        # The keyword-labelled set G (written from the seeds alone, scored once blind, then studied
        # by the curators) joins as development data, its topics read off by its keywords.
        import blind_eval

        for name, path in (("G", BLIND_G), ("H", BLIND_H)):
            dev[name] = [Case(q, t, r) for q, t, r in blind_eval.topic_labels(blind_eval.load_set(path), retriever, kb)]
        # Sets B-E became development data as curators studied their misses or the calibration
        # used them, so it sees them all, with G; F and the blind sets are measured, not fitted.
        th = calibrate(retriever, [c for cases in dev.values() for c in cases])
        print(f"\ncalibrated on sets A-E, G and H: answer >= {th.answer:.2f}, clarify >= {th.clarify:.2f}, "
              f"lone candidate answered >= {th.plausible:.2f},\n"
              f"  weights={th.weights},\n  bm25_weights={th.bm25_weights}")
        for name, subset in [(f"set {n} (fitted on: optimistic)", cases) for n, cases in dev.items()]:
            print(f"{name} with these thresholds:")
            for line in evaluate(retriever, subset).lines():
                print("  " + line)
        retriever.thresholds = Thresholds()
    scores = evaluate(retriever, cases)
    t = retriever.thresholds
    print(f"\nall questions, shipped thresholds (answer >= {t.answer:.2f}, clarify >= {t.clarify:.2f}):")
    for line in scores.lines():
        print("  " + line)
    if args.errors:
        print("\nmisses:")
        for c, r in scores.misses:
            got = ", ".join(f"{x.topic}:{x.score:.1f}" for x in r.candidates[:3]) or "-"
            print(f"  [{r.kind} {r.confidence:.2f}] {c.q!r} expect {c.expect} got {got}")

    questions = [c.q for c in cases]
    p50, p99 = time_lookups(retriever, questions, args.rounds)
    print(f"\nlookup latency, real KB ({len(kb.entries)} entries):     p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    big = Retriever(synthetic_kb(kb, 10_000), classifier=not args.no_classifier)
    p50b, p99b = time_lookups(big, questions, max(1, args.rounds // 2))
    print(f"lookup latency, synthetic KB (10,000 entries): p50 {p50b:.3f} ms  p99 {p99b:.3f} ms  (target p99 < 5 ms; "
          f"{'with' if big.classifier else 'without'} the classifier)")
    print(f"ratio 10k/real: p50 x{p50b / p50:.1f}, p99 x{p99b / p99:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
