"""What simulated enterprises send, shared by webhook_load.py and webhook_cpu.py.

Most users only ask: questions (with the odd follow / menu event). One in four is filling in an
application: form answers, the odd question asked mid-form, events. Over all users that is 70 %
questions, 20 % form turns, 10 % events (issue 7's mix).

Questions are every question of the retrieval eval sets (A-F, bench/data/kb_*.yaml: ~2,500
distinct texts in enterprises' own words, a tenth of them unanswerable), asked with Zipf-like
frequencies (the k-th most popular asked 1/k as often as the first): a few dozen questions make
up much of the traffic, as on any FAQ channel, and most texts are rare. So the retriever's memory
of recent results (knowledge/retriever.py SEARCH_CACHE_SIZE) helps about as much as it would in
service, not on ten questions asked over and over.
"""
from __future__ import annotations

import random
import time
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("data")
FORM = ["我要申请帮办", "5", "武汉光谷示例科技有限公司", "91350100M000100Y43", "光谷示例研发楼", "无",
        "1", "否", "1", "3", "1 3", "陈明", "13800138000", "取消"]
APPLICANT_EVERY = 4  # users 0, 4, 8 … fill in applications
EVENTS = ["subscribe", "VIEW", "CLICK"]


@lru_cache(maxsize=1)
def questions() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The distinct questions, in a fixed shuffled order, and their cumulative Zipf weights."""
    # The topic-labelled sets (kb_eval.yaml, kb_test_*.yaml) and the single questions of the keyword
    # sets (kb_blind_*.yaml, whose follow-ups are conversations): only speed is measured on them.
    texts = sorted({str(c["q"]) for f in sorted(DATA.glob("kb_*.yaml"))
                    for c in yaml.safe_load(f.read_text(encoding="utf-8")) if "q" in c})
    random.Random(7).shuffle(texts)
    return tuple(texts), tuple(accumulate(1.0 / rank for rank in range(1, len(texts) + 1)))


@lru_cache(maxsize=1)
def opens_a_form() -> frozenset[str]:
    """Questions the bot reads as a request to apply (「咋申请帮办」): it starts the form, and a clerk
    who only wanted to know cancels it next."""
    from dialogs.nlu import understand

    return frozenset(q for q in questions()[0] if understand(q).intent.startswith("apply"))


class SimulatedUser:
    """Enterprise clerk number n: `next_message(rng)` is what they send next, as (kind, text or event)."""

    def __init__(self, n: int):
        self.applicant = n % APPLICANT_EVERY == 0
        self.form_step = 0
        self.in_unwanted_form = False

    def next_message(self, rng: random.Random) -> tuple[str, str]:
        r = rng.random()
        if r < 0.1:
            return "event", rng.choice(EVENTS)
        if self.applicant and r < 0.9:
            text = FORM[self.form_step % len(FORM)]
            self.form_step += 1
            return "form", text
        if self.in_unwanted_form:
            self.in_unwanted_form = False
            return "form", "取消"
        texts, cumulative = questions()
        text = rng.choices(texts, cum_weights=cumulative)[0]
        self.in_unwanted_form = not self.applicant and text in opens_a_form()
        return "question", text


def message_xml(openid: str, kind: str, value: str, rng: random.Random) -> str:
    from webhook.simulator import event_xml, text_xml

    if kind == "event":
        # Events carry no MsgId: a distinct CreateTime keeps retry dedup from taking them for retries.
        return event_xml(openid, value, create_time=int(time.time()) + rng.randint(0, 10**6))
    return text_xml(openid, value)
