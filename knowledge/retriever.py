"""Find the knowledge-base topic a question is about, and how sure we are.

BM25 on jieba words and character bigrams, over three views of a topic: each way it is asked on
its own (title, canonical question, paraphrases: the best one counts), all of them together, and
its answers (lighter). A topic classifier learned from the same questions when the KB loads
(classifier.py) then multiplies each topic's score by (p + 0.3) ** 0.3. The two make different
mistakes: BM25 trusts any rare word, the classifier knows which words tell topics apart (收费 →
service.fee; 服务, 帮办 → anything), so on the KB's own paraphrases, each fifth held out and
asked of a KB retrained without it, top-1 goes from 79.0 % (BM25) to 80.7 % (classifier alone:
77.8 %). Multiplying rather than adding, with a narrow range (×0.70 … ×1.08), keeps BM25 in
charge of *whether* a topic matches (a score of 0 stays 0: the classifier cannot conjure an
answer to an off-topic question) and of near-ties (see CLASSIFIER_FLOOR), and lets the classifier
settle close calls.

Confidence is a small logistic model over how strong the top (blended) score is, how close the
runner-up comes, and how much of the question's information (idf mass) the topic covers: a
question made of words the KB has never seen scores low however the ranking falls, which is what
lets the bot say "I am not sure" honestly. The same three features on blended scores separate
right from wrong top topics better than on BM25's (set A, 5-fold: log-loss 0.328 → 0.285, AUC
0.917 → 0.942 on the KB before the curators' paraphrase push; 0.188 → 0.143 and 0.980 → 0.990
after it). The classifier's own probability, margin or entropy, or the share of the question it
has never seen, as further features did not improve that, so the model stays at three. How the
weights and thresholds are fitted: bench/kb_eval.py `calibrate`.

Pure and in-memory; numpy keeps a lookup well under a millisecond on the real KB (the classifier
adds ~0.03 ms; training it adds ~0.3 s to building the index) and a few milliseconds on a
10k-entry one, which is too large for the classifier and runs on BM25 alone with its own
confidence weights (bench/kb_eval.py measures both).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

import numpy as np

from . import classifier as topic_classifier
from .loader import KnowledgeBase
from .text import Analyzer, Terms, normalize

K1 = 1.2
B = 0.75
# Distinct questions whose results each process remembers. Enterprises ask the same few dozen
# things in the same words (and menu buttons send identical texts); a remembered result costs a
# dict lookup instead of ~0.4 ms of scoring, which at the webhook is most of a question's CPU.
# The index never changes after it is built, so a remembered result is never stale.
SEARCH_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Thresholds:
    """Weights fitted on the development sets A-E (bench/data/kb_eval.yaml, kb_test_[b-e].yaml) and
    the keyword-labelled G and H (kb_blind_[gh].yaml, topics read off by keywords) plus the KB's held-out
    paraphrases; the answer and lone-candidate thresholds swept on those sets (at most 1 % confidently
    wrong there: their labels predate the seed-coverage topics, so part of it is drift), the menu
    threshold argued (`python bench/kb_eval.py --calibrate`); F and the newest blind set are only
    measured. Refit after the KB or the retriever changes: the scores move with them."""

    answer: float = 0.80     # confidence at or above: answer directly
    clarify: float = 0.50    # at or above (and below answer): offer a numbered menu
    # A menu that would hold one option is answered (tentatively) from this confidence up, and
    # below it the bot says it is not sure: a lone weak match is seldom the question's topic.
    # 0.75 until blind set S; 0.70 answers three more answerable questions right on blind G-S and
    # eight traps honestly instead of 「答不准」, none wrong; 0.65 answered 「混凝土强度等级怎么选」 from
    # 好差评's levels (bench/kb_eval.py).
    plausible: float = 0.70
    menu_ratio: float = 0.6  # menu shows runners-up scoring at least this share of the top
    # Logistic model over (bias, log1p(top score), runner-up ratio, coverage): P(top topic right),
    # on the scores blended with the topic classifier.
    weights: tuple[float, float, float, float] = (0.269, 1.035, -4.53, 1.577)
    # The same fitted on BM25 scores alone, for KBs too big for the classifier (classifier.py).
    bm25_weights: tuple[float, float, float, float] = (-0.311, 1.181, -4.709, 1.906)


@dataclass(frozen=True)
class Candidate:
    topic: str
    score: float


@dataclass(frozen=True)
class Result:
    kind: Literal["answer", "clarify", "unsure"]
    candidates: tuple[Candidate, ...]
    confidence: float
    # Answered although below the answer threshold, because it was the only plausible topic: a
    # one-line menu is an answer withheld, so the bot answers and offers 转人工 under it.
    tentative: bool = False

    @property
    def topic(self) -> str | None:
        return self.candidates[0].topic if self.candidates else None


class _Field:
    """Postings with precomputed BM25 weights: scoring a query is a sum of array slices."""

    def __init__(self, docs: Sequence[Sequence[str]]):
        self.n_docs = len(docs)
        avgdl = (sum(len(d) for d in docs) / self.n_docs) if self.n_docs else 1.0
        df: Counter[str] = Counter()
        for d in docs:
            df.update(set(d))
        self.idf = {t: math.log(1 + (self.n_docs - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        self.max_idf = math.log(1 + (self.n_docs - 0.5) / 1.5) if self.n_docs else 1.0
        postings: dict[str, list[tuple[int, float]]] = {}
        for i, d in enumerate(docs):
            norm = K1 * (1 - B + B * len(d) / (avgdl or 1.0))
            for t, tf in Counter(d).items():
                w = self.idf[t] * tf * (K1 + 1) / (tf + norm)
                postings.setdefault(t, []).append((i, w))
        # All postings in two flat arrays, each term a (start, end) span of them: the same sums as
        # an array pair per term, and a pickle of two arrays instead of ~40k (knowledge/cache.py).
        self.spans: dict[str, tuple[int, int]] = {}
        flat: list[tuple[int, float]] = []
        for t, p in postings.items():
            self.spans[t] = (len(flat), len(flat) + len(p))
            flat += p
        self.post_docs = np.fromiter((i for i, _ in flat), np.int32, len(flat))
        self.post_weights = np.fromiter((w for _, w in flat), np.float32, len(flat))
        # Which terms a document holds is read from the postings (each term's documents ascend),
        # not kept as a set per document: those ~20k frozensets were a third of loading the
        # cached index (bench/startup.py).

    def contains(self, term: str, doc: int) -> bool:
        span = self.spans.get(term)
        if span is None:
            return False
        docs = self.post_docs[span[0]:span[1]]
        i = int(np.searchsorted(docs, doc))
        return i < len(docs) and docs[i] == doc

    def document_frequency(self, term: str) -> int:
        a, b = self.spans.get(term, (0, 0))
        return b - a

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        spans = [self.spans[t] for t in set(terms) if t in self.spans]
        if not spans:
            return np.zeros(self.n_docs, np.float32)
        idx = np.concatenate([self.post_docs[a:b] for a, b in spans])
        w = np.concatenate([self.post_weights[a:b] for a, b in spans])
        return np.bincount(idx, weights=w, minlength=self.n_docs).astype(np.float32)

    def coverage(self, terms: Sequence[str], doc: int) -> float:
        """Share of the query's idf mass found in one document (unknown terms weigh the most)."""
        uniq = set(terms)
        if not uniq:
            return 0.0
        total = sum(self.idf.get(t, self.max_idf) for t in uniq)
        found = sum(self.idf[t] for t in uniq if self.contains(t, doc))
        return found / total if total else 0.0


class Retriever:
    # Field weights, from a grid over bench/data/kb_eval.yaml (a plateau, not its single best point).
    GRAM_WEIGHT = 0.5         # bigrams relative to words, in the question fields
    BEST_QUESTION_WEIGHT = 0.5
    ANSWER_WORD_WEIGHT = 0.8
    ANSWER_GRAM_WEIGHT = 0.2

    # The classifier multiplies a topic's BM25 score by (p + FLOOR) ** POWER: between ×0.70 and
    # ×1.08, so a topic it is sure of gains at most ×1.55 over one it rules out. Enough to settle
    # close calls; not enough to hide a near-tie BM25 sees (「办规划证需要哪些材料」 ties the two
    # planning permits and the construction permit, and must stay a menu: the classifier, which
    # never saw 规划证 alone, leans to the construction permit, and a ×2.6 range turned that into
    # a confident wrong answer), nor to promote a topic BM25 found nothing for. Stronger settings
    # ranked no better: on the paraphrase hold-out (bench/kb_eval.py holdout_folds) top-1 is
    # 79.0 % for BM25 alone, 80.7 % with this blend, 80.2 % with a ×2.6 one.
    CLASSIFIER_FLOOR = 0.3
    CLASSIFIER_POWER = 0.3
    # About two matched words' worth of score: set A's log-loss 0.168 → 0.143 against no
    # smoothing, the paraphrase hold-out's 0.342 → 0.347 (5 folds each).
    RATIO_SMOOTHING = 10.0

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer | None = None,
                 thresholds: Thresholds = Thresholds(), classifier: bool = True):
        self.kb = kb
        self._remembered = lru_cache(maxsize=SEARCH_CACHE_SIZE)(self.search_uncached)
        self.thresholds = thresholds
        self.analyzer = analyzer or Analyzer(kb.lexicon.words, kb.lexicon.synonyms,
                                             drop=[n for r in kb.regions.values() for n in r.names],
                                             corpus=[t for e in kb.entries for t in (*e.questions, e.answer)])
        self.topics: list[str] = list(kb.topics)
        q_terms: list[Terms] = []
        doc_topic: list[int] = []
        answers: list[Terms] = []
        topic_words: list[list[str]] = []
        topic_grams: list[list[str]] = []
        for ti, topic in enumerate(self.topics):
            questions = dict.fromkeys(q for e in kb.topics[topic] for q in e.questions)
            words, grams = [], []
            for q in questions:
                terms = self.analyzer.terms(q)
                q_terms.append(terms)
                doc_topic.append(ti)
                words += terms.words
                grams += terms.grams
            topic_words.append(words)
            topic_grams.append(grams)
            answers.append(self.analyzer.terms(" ".join(e.answer for e in kb.topics[topic])))
        self.doc_topic = np.asarray(doc_topic, np.int32)
        # Documents are grouped by topic, so a topic's best question is one reduceat away.
        self.topic_starts = np.flatnonzero(np.r_[True, self.doc_topic[1:] != self.doc_topic[:-1]]) \
            if len(doc_topic) else np.zeros(0, np.int64)
        # Each way of asking on its own (a close paraphrase wins outright) ...
        self.words = _Field([t.words for t in q_terms])
        self.grams = _Field([t.grams for t in q_terms])
        # ... and all of a topic's questions together (a new phrasing borrows words from several).
        self.topic_words = _Field(topic_words)
        self.topic_grams = _Field(topic_grams)
        self.answer_words = _Field([t.words for t in answers])
        self.answer_grams = _Field([t.grams for t in answers])
        self.classifier: topic_classifier.TopicClassifier | None = None
        if classifier and topic_classifier.worth_training(len(q_terms), len(self.topics)):
            self.classifier = topic_classifier.train(q_terms, doc_topic, len(self.topics))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_remembered"]  # a cache of results, not part of the index
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._remembered = lru_cache(maxsize=SEARCH_CACHE_SIZE)(self.search_uncached)

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    @thresholds.setter
    def thresholds(self, value: Thresholds) -> None:
        # Results depend on the thresholds (calibration swaps them): forget the old ones.
        self._thresholds = value
        self._remembered.cache_clear()

    def warm(self) -> None:
        self.analyzer.warm()
        self.search_uncached("施工许可证")

    def search(self, text: str, k: int = 3) -> Result:
        """The best topics for a question, remembered per distinct text (SEARCH_CACHE_SIZE)."""
        return self._remembered(text, k)

    def search_uncached(self, text: str, k: int = 3) -> Result:
        terms = self.analyzer.terms(text)
        if not self.topics or not (terms.words or terms.grams):
            return Result("unsure", (), 0.0)
        g = self.GRAM_WEIGHT
        doc_scores = self.words.scores(terms.words) + g * self.grams.scores(terms.grams)
        topic_scores = (self.BEST_QUESTION_WEIGHT * np.maximum.reduceat(doc_scores, self.topic_starts)
                        + self.topic_words.scores(terms.words) + g * self.topic_grams.scores(terms.grams)
                        + self.ANSWER_WORD_WEIGHT * self.answer_words.scores(terms.words)
                        + self.ANSWER_GRAM_WEIGHT * self.answer_grams.scores(terms.grams))
        if self.classifier is not None:
            p = np.exp(self.classifier.log_proba(terms))
            topic_scores = topic_scores * (p + self.CLASSIFIER_FLOOR) ** self.CLASSIFIER_POWER
        order = np.argsort(-topic_scores, kind="stable")[: max(k, 2)]
        top = float(topic_scores[order[0]])
        if top <= 0:
            return Result("unsure", (), 0.0)
        candidates = tuple(Candidate(self.topics[i], float(topic_scores[i])) for i in order if topic_scores[i] > 0)
        confidence = self.confidence(self.features(terms, int(order[0]), candidates))
        th = self.thresholds
        if confidence >= th.answer:
            kind = "answer"
        elif confidence >= th.clarify:
            kind = "clarify"
        else:
            kind = "unsure"
        if kind == "clarify":
            # A menu is for genuinely different close candidates on the question's subject: at most
            # k, each near the top's score and sharing a distinctive word with the question. When
            # only the top is left, it is answered (tentatively) rather than offered alone.
            candidates = tuple(c for c in candidates[:k] if c.score >= th.menu_ratio * top)
            candidates = candidates[:1] + tuple(c for c in candidates[1:] if self._on_subject(terms, c.topic))
            if len(candidates) == 1:
                if confidence >= th.plausible:
                    return Result("answer", candidates, confidence, tentative=True)
                return Result("unsure", candidates, confidence)
        return Result(kind, candidates[:k], confidence)

    # A word used by more than this share of topics says nothing about which one is meant
    # (办理, 需要, 多久): sharing only such words does not put a menu option on the subject.
    GENERIC_SHARE = 0.15

    def _on_subject(self, terms: Terms, topic: str) -> bool:
        field = self.topic_words
        limit = max(self.GENERIC_SHARE * field.n_docs, 3)  # a small KB has few topics to share a word
        doc = self.topics.index(topic)
        return any(field.contains(w, doc) and field.document_frequency(w) <= limit for w in set(terms.words))

    def ambiguity(self, text: str) -> tuple[str, tuple[str, ...]] | None:
        """(folk name, what it may mean) when the question uses a name of several things and
        none of them by its own name: 「规划证多久」 may be either planning permit, and no third
        topic should answer it."""
        canonical = self.analyzer.canonical_text(text)
        for term, folk in self.kb.lexicon.ambiguous.items():
            rest = canonical
            for m in folk.means:
                rest = rest.replace(normalize(m), " ")
            t = normalize(term)
            start = rest.find(t)
            while start >= 0:
                if not any(rest[:start].endswith(normalize(q)) for q in folk.not_after):
                    return term, folk.means
                start = rest.find(t, start + 1)
        return None

    def mentions(self, topic: str, text: str) -> bool:
        """Whether a topic's questions use any content word of `text` (is the answer about it?)."""
        doc = self.topics.index(topic)
        return any(self.topic_words.contains(w, doc) for w in set(self.analyzer.terms(text).words))

    def features(self, terms: Terms, top_topic: int, candidates: tuple[Candidate, ...]) -> tuple[float, float, float]:
        """(log1p top score, runner-up / top, share of the question's information the topic covers).

        Scores are the blended ones, so the classifier's view is already in the first two: a
        topic it backs scores higher and leaves its runner-up further behind. The ratio is
        smoothed by RATIO_SMOOTHING on both sides: with a lone weak match (「万海燕」 shares one
        word with one topic, score ~5) there is no runner-up, and an unsmoothed ratio of 0 read
        as the widest possible margin."""
        top = candidates[0].score
        second = candidates[1].score if len(candidates) > 1 else 0.0
        ratio = (second + self.RATIO_SMOOTHING) / (top + self.RATIO_SMOOTHING)
        cov_w = self.topic_words.coverage(terms.words, top_topic)
        cov_g = self.topic_grams.coverage(terms.grams, top_topic) if terms.grams else cov_w
        return (math.log1p(top), ratio, 0.5 * cov_w + 0.5 * cov_g)

    def confidence(self, features: Sequence[float]) -> float:
        b, w_score, w_ratio, w_cov = (self.thresholds.weights if self.classifier is not None
                                      else self.thresholds.bm25_weights)
        z = b + w_score * features[0] + w_ratio * features[1] + w_cov * features[2]
        return round(1.0 / (1.0 + math.exp(-z)), 4)
