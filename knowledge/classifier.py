"""Which topic a question is about, learned from the knowledge base's own ways of asking.

BM25 (retriever.py) weighs a term by how rare it is in the KB; it cannot know that 收费 and
多少钱 point at service.fee while 服务 and 帮办 point at nothing in particular. This classifier
learns exactly that from the curated questions: a multinomial logistic regression whose features
are the jieba words and the character 1-2-grams of the canonical text (text.Analyzer, so
synonyms and dropped region names are treated as in retrieval), trained on every entry's title,
question and paraphrases with the topic as label. retriever.py multiplies each topic's BM25 score
by a power of its probability, which reorders close calls and sharpens the confidence.

Why it is built this way (measured on set A, bench/data/kb_eval.yaml, and on the KB's own
paraphrases: each fifth held out, the KB retrained without it and asked it, bench/kb_eval.py
holdout_folds):
  * words plus character 1-2-grams: words alone lost 7 points of the classifier's own top-1
    on set A (typos, compounds jieba splits its own way); 3-grams, idf weighting, per-topic
    balancing, and training on the answers' sentences as well were no better.
  * trained when the KB loads (0.25-0.5 s for the current 1.5k questions on a busy two-core
    machine), so it can never be stale while curators edit paraphrases: no artifact, no digest.
    Full-batch Nesterov gradient descent from zero for a fixed number of steps: deterministic
    (no random start, no shuffling), and the short run is the regulariser (an L2 penalty made
    no measurable difference; 20 to 60 steps rank about the same).
  * trained in kernel ("dual") form: gradient descent from zero keeps the weights a combination
    of the training rows, W = Xᵀ·A, so each step is one dense K·A with K = X·Xᵀ (questions ×
    questions, built once from the sparse features) instead of two gather/scatter passes over
    the sparse matrix: the same model, two to three times faster in numpy. The step size
    follows K's largest eigenvalue, so the schedule needs no retuning as the KB grows.
  * a step costs questions² × topics, and the weights take vocabulary × topics floats, so
    above MAX_WORK or MAX_TOPICS the retriever does without it (BM25 alone, with its own
    calibrated confidence, and a warning in the log). The 10k-entry synthetic KB in
    bench/kb_eval.py is far beyond both (10k topics would need gigabytes of weights).
  * no separate out-of-domain score: a question is scaled by all its features, so words the KB
    never uses flatten the distribution and lower the blended score, and the retriever's
    coverage feature already marks them. A "share of unknown features" feature and the
    classifier's own probability, margin or entropy as confidence features did not improve
    calibration on set A (see retriever.Retriever.features).

Pure: numpy only; imports nothing of bot, dialogs or webhook.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .text import Terms

log = logging.getLogger(__name__)

# Training cost is ~questions² × topics per step. Measured (30 steps, busy 2-core box): the real KB,
# 1.5k questions × 75 topics = 1.8e8, 0.2-0.3 s; 2.6k × 260 = 1.8e9, 1.0 s; 3.2k × 360 = 3.8e9, 2.0 s.
# Since the built retriever is cached on disk (cache.py), training is paid once per change of the KB,
# not at every process start: the limit guards build time and the kernel's memory (questions² float32:
# 80 MB at 4.5k questions, 220 MB at the 7.4k this allows with ~110 topics).
MAX_WORK = 6e9
MAX_TOPICS = 500     # weights are vocabulary × topics float32 (10 MB at 260 topics)
ITERATIONS = 30
MOMENTUM = 0.9
STEP = 4.0           # × questions / λmax(K): about half momentum descent's stability bound


def worth_training(n_questions: int, n_topics: int) -> bool:
    """Whether a KB this size gets a classifier (see the module docstring)."""
    if n_topics < 2:
        return False
    if n_topics > MAX_TOPICS or float(n_questions) ** 2 * n_topics > MAX_WORK:
        log.warning("knowledge base too large for the topic classifier (%d questions, %d topics): "
                    "BM25 alone", n_questions, n_topics)
        return False
    return True


def features(terms: Terms) -> set[str]:
    """jieba words (stopwords removed, synonyms canonical) and character 1-2-grams."""
    out = {"w:" + w for w in terms.words}
    for run in terms.text.split():
        out.update(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


@dataclass(frozen=True)
class TopicClassifier:
    vocab: dict[str, int]
    weights: np.ndarray  # (features, topics) float32
    bias: np.ndarray     # (topics,) float32

    @property
    def n_topics(self) -> int:
        return len(self.bias)

    def log_proba(self, terms: Terms) -> np.ndarray:
        """Log-probability of every topic. A question is scaled like the training rows
        (1/√features), counting features the KB never used: they pull every topic toward the prior."""
        fs = features(terms)
        idx = [self.vocab[f] for f in fs if f in self.vocab]
        z = self.bias.astype(np.float64)
        if idx:
            z = z + self.weights[idx].sum(0, dtype=np.float64) / math.sqrt(len(fs))
        return z - (z.max() + math.log(np.exp(z - z.max()).sum()))


def train(docs: Sequence[Terms], labels: Sequence[int], n_topics: int) -> TopicClassifier:
    """Fit on analysed questions and their topic numbers (0 ≤ label < n_topics).

    Each question is a row of binary features scaled to unit length; the loss is the mean
    cross-entropy. Questions without any feature are left out."""
    rows = [sorted(features(d)) for d in docs]
    keep = [i for i, r in enumerate(rows) if r]
    vocab: dict[str, int] = {}
    for i in keep:
        for f in rows[i]:
            vocab.setdefault(f, len(vocab))
    n = len(keep)
    if n == 0:
        return TopicClassifier(vocab, np.zeros((0, n_topics), np.float32), np.zeros(n_topics, np.float32))
    # The sparse feature matrix, column by column (feature → the questions using it).
    row_ids = np.concatenate([np.full(len(rows[i]), r, np.int64) for r, i in enumerate(keep)])
    col_ids = np.fromiter((vocab[f] for i in keep for f in rows[i]), np.int64, len(row_ids))
    vals = np.concatenate([np.full(len(rows[i]), 1 / math.sqrt(len(rows[i]))) for i in keep])
    order = np.argsort(col_ids, kind="stable")
    row_ids, col_ids, vals = row_ids[order], col_ids[order], vals[order]
    starts = np.flatnonzero(np.r_[True, col_ids[1:] != col_ids[:-1]])
    ends = np.r_[starts[1:], len(col_ids)]
    # K = X·Xᵀ from each feature's pairs of questions (Σ df² pairs: ~3 million on the real KB),
    # features with the same document frequency taken together as one (m, df) block, and the
    # pairs summed a few million at a time to bound the memory.
    df = ends - starts
    kernel = np.zeros((n, n), np.float32)
    pairs: list[np.ndarray] = []
    pair_w: list[np.ndarray] = []
    pending = 0
    for k in np.unique(df).tolist():
        at = starts[df == k][:, None] + np.arange(k)
        d, x = row_ids[at], vals[at]
        pairs.append((d[:, :, None] * n + d[:, None, :]).ravel())
        pair_w.append((x[:, :, None] * x[:, None, :]).ravel())
        pending += pairs[-1].size
        if pending > 4_000_000 or k == df.max():
            kernel += np.bincount(np.concatenate(pairs), weights=np.concatenate(pair_w),
                                  minlength=n * n).reshape(n, n).astype(np.float32)
            pairs, pair_w, pending = [], [], 0
    # Largest eigenvalue by power iteration (K is non-negative: the all-ones start is close).
    vec = np.ones(n, np.float32)
    lam = 1.0
    for _ in range(12):
        vec = kernel @ vec
        lam = float(np.linalg.norm(vec)) or 1.0
        vec /= lam
    rate = np.float32(STEP * n / lam)

    y = np.zeros((n, n_topics), np.float32)
    y[np.arange(n), np.asarray(labels)[keep]] = 1
    a = np.zeros((n, n_topics), np.float32)
    b = np.zeros(n_topics, np.float32)
    va, vb = np.zeros_like(a), np.zeros_like(b)
    mom = np.float32(MOMENTUM)
    for _ in range(ITERATIONS):
        al, bl = a + mom * va, b + mom * vb  # Nesterov: the gradient at the look-ahead point
        z = kernel @ al + bl
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - y) / np.float32(n)
        va = mom * va - rate * g
        vb = mom * vb - rate * g.sum(0)
        a += va
        b += vb
    weights = np.add.reduceat(vals[:, None].astype(np.float32) * a[row_ids], starts, axis=0)
    return TopicClassifier(vocab, weights.astype(np.float32), b)
