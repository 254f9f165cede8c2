"""Cut long replies to what WeChat shows (2048 bytes of a text reply), at sentence boundaries."""
from __future__ import annotations

import re

WECHAT_TEXT_LIMIT = 2048
_SENTENCE_RE = re.compile(r"[^。！？；\n]*(?:[。！？；\n]|$)")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_RE.findall(text) if s]


def _hard_cut(sentence: str, budget: int) -> list[str]:
    """A single 'sentence' longer than a page: cut at character boundaries (never mid-UTF-8)."""
    pieces, current = [], ""
    for ch in sentence:
        if _size(current + ch) > budget:
            pieces.append(current)
            current = ""
        current += ch
    if current:
        pieces.append(current)
    return pieces


def split_pages(text: str, hint: str, limit: int = WECHAT_TEXT_LIMIT) -> list[str]:
    """Pages that each fit `limit` bytes; every page but the last ends with `hint`."""
    if _size(text) <= limit:
        return [text]
    budget = limit - _size(hint)
    pages: list[str] = []
    current = ""
    for sentence in _sentences(text):
        for piece in (_hard_cut(sentence, budget) if _size(sentence) > budget else [sentence]):
            if current and _size(current + piece) > budget:
                pages.append(current)
                current = ""
            current += piece
    if current:
        pages.append(current)
    return [p.rstrip("\n") + hint for p in pages[:-1]] + [pages[-1]]
