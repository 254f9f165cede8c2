"""Text analysis for retrieval: normalisation, jieba words with the domain lexicon, synonyms,
and character bigrams (they survive typos like 施工许可正 and abbreviations jieba cannot know).
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

import jieba

jieba.setLogLevel(logging.WARNING)

_PUNCT_RE = re.compile(r"[\s\u3000\W_]+", re.UNICODE)
_CJK_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")

# Function words that say nothing about which topic is meant. Question words that do
# (材料, 多久, 流程, 条件, 收费 ...) are deliberately kept.
STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 嘛 哦 哈 是 我 我们 我司 咱们 你 你们 您 他 她 它 这 那 这个 那个 一下 请问 "
    "请 问 想 想问 问下 问一下 麻烦 谢谢 就 都 也 还 又 和 与 及 或 或者 在 对 把 被 给 让 从 到 "
    "个 些 一 有 没 没有 能 能不能 可以 可不可以 会 要 需要 得 地 着 过 么 呗 啦 嗯 额 下 上 里 "
    "一个 怎么 怎样 如何 什么 啥 咋 哪 哪些 哪个 多少 吗? 是不是 有没有 现在 目前 如果 然后 所以 因为 "
    "你好 您好 老师 领导 同志 想问问 问问 咨询 咨询一下 这边 那边 这里 那里 这种 那种 听说 一下子 "
    "请教 打扰 谢谢 麻烦 帮忙 看看 知道 清楚 了解 具体 一般 到底 究竟 真的 其实 呀 喔 哟 哇 "
    "公司 我们公司 企业 我们企业 单位 我们单位 老板 领导".split()
)


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and spaces removed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _PUNCT_RE.sub("", text)


def _is_latin(word: str) -> bool:
    return word.isascii() and any(c.isalpha() for c in word)


def _strip_with_word_bounds(text: str) -> tuple[str, set[int]]:
    """normalize(text), and the offsets in it where a word of Latin letters began or ended in the
    original (at a removed space or punctuation mark, or next to a non-Latin character)."""
    raw = unicodedata.normalize("NFKC", text or "").lower()
    out: list[str] = []
    bounds = {0}
    prev_latin = False
    for ch in raw:
        if _PUNCT_RE.fullmatch(ch):
            bounds.add(len(out))
            prev_latin = False
            continue
        latin = ch.isascii() and ch.isalnum()
        if latin != prev_latin:
            bounds.add(len(out))
        out.append(ch)
        prev_latin = latin
    bounds.add(len(out))
    return "".join(out), bounds


def bigrams(text: str) -> list[str]:
    out: list[str] = []
    for run in _CJK_RUN_RE.findall(text):
        if len(run) == 1:
            out.append(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


@dataclass(frozen=True)
class Terms:
    words: tuple[str, ...]
    grams: tuple[str, ...]
    text: str = ""  # the canonical text they came from (the topic classifier reads its characters)


# jieba's dictionary words kept besides those the corpus uses (see Analyzer.keep_only): the most
# frequent ones, so everyday words around the domain words are still cut as words.
COMMON_WORDS = 30_000
_LONGEST_WORD = 16


class Analyzer:
    """Turns a question into index terms. One instance per knowledge base (own jieba dictionary).

    Given the knowledge base's texts (`corpus`), it keeps only the dictionary words those texts
    contain plus jieba's COMMON_WORDS most frequent ones (36k prefix entries instead of 499k), and
    pickles with that small dictionary (knowledge/cache.py): loading jieba's full dictionary was
    0.9 s of every process start. A word the corpus never uses can only ever be an unknown term,
    so cutting it differently changes little: on sets A-F top-1 is identical to the full
    dictionary's, answered-right 0-1.3 points higher, confidently wrong within ±0.2 points."""

    def __init__(self, words=(), synonyms=(), drop=(), corpus=()):
        self._jieba = jieba.Tokenizer()
        # Words removed before matching: region names are an entity the dialog handles on its own;
        # as index terms they only pull questions toward whichever region variant mentions them.
        drop = sorted({normalize(d) for d in drop if normalize(d)}, key=len, reverse=True)
        self._drop_re = re.compile("|".join(map(re.escape, drop))) if drop else None
        self._canon: dict[str, str] = {}
        for group in synonyms:
            canonical = normalize(group[0])
            for variant in group:
                self._canon[normalize(variant)] = canonical
        # Latin-script variants (English words, pinyin) are not given to jieba: inside a run of
        # letters it would cut "separate" into sepa + rate (评价). They are matched whole-word
        # instead (see canonical_text).
        for w in {*words, *(v for g in synonyms for v in g)}:
            w = normalize(w)
            if len(w) > 1 and not _is_latin(w):
                self._jieba.add_word(w, freq=20000)
        # Longest variant first, so 建设工程规划许可证 wins over 规划许可证 inside it.
        multi = sorted((v for v in self._canon if len(v) > 1 and self._canon[v] != v), key=len, reverse=True)
        self._variant_re = re.compile("|".join(map(re.escape, multi))) if multi else None
        if corpus:
            self.keep_only(corpus)

    def keep_only(self, corpus) -> None:
        """Shrink jieba's dictionary to the words `corpus` contains and the common ones."""
        tok = self._jieba
        tok.check_initialized()
        freq = tok.FREQ
        keep: dict[str, int] = {}
        for text in corpus:
            t = self.canonical_text(text)
            for i in range(len(t)):
                for j in range(i + 1, min(len(t), i + _LONGEST_WORD) + 1):
                    f = freq.get(t[i:j])
                    if f is None:  # not even a prefix of a word: no longer word starts here
                        break
                    if f:
                        keep[t[i:j]] = f
        keep.update((w, f) for w, f in freq.items() if f and w in tok.user_word_tag_tab)
        common = sorted((w for w, f in freq.items() if f), key=freq.__getitem__, reverse=True)[:COMMON_WORDS]
        keep.update((w, freq[w]) for w in common)
        prefixes: dict[str, int] = {}
        for w, f in keep.items():
            prefixes[w] = f
            for k in range(1, len(w)):
                prefixes.setdefault(w[:k], 0)
        tok.FREQ = prefixes  # `total` stays the full dictionary's: kept words keep their odds

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        tok = state.pop("_jieba")
        tok.check_initialized()
        state["_jieba_dict"] = (tok.FREQ, tok.total, dict(tok.user_word_tag_tab))
        return state

    def __setstate__(self, state: dict) -> None:
        freq, total, tags = state.pop("_jieba_dict")
        self.__dict__.update(state)
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ, self._jieba.total, self._jieba.user_word_tag_tab = freq, total, tags
        self._jieba.initialized = True

    def warm(self) -> None:
        """Load jieba's dictionary now rather than on the first user's message."""
        self._jieba.initialize()

    def canonical_text(self, text: str) -> str:
        t, bounds = _strip_with_word_bounds(text)
        if self._variant_re is not None:
            def canonical(m: re.Match) -> str:
                variant = m.group(0)
                # A Latin-script variant counts only as a whole word of what the user typed
                # ("rate", not the end of "separate"; "construction permit" with its space).
                if _is_latin(variant) and not (m.start() in bounds and m.end() in bounds):
                    return variant
                return self._canon[variant]
            t = self._variant_re.sub(canonical, t)
        if self._drop_re is not None:
            t = self._drop_re.sub(" ", t)
        return t

    def terms(self, text: str) -> Terms:
        t = self.canonical_text(text)
        words = [self._canon.get(w, w) for w in self._jieba.lcut(t, HMM=False)]
        words = [w for w in words if w not in STOPWORDS and w.strip()]
        grams = [g for g in bigrams(t) if g not in STOPWORDS]
        return Terms(tuple(words), tuple(grams), t)
