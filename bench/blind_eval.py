"""Score a keyword-labelled blind set through the whole dialog pipeline, as a user gets it.

The blind sets (bench/data/kb_blind_*.yaml) are written by people given only the five seeds and
the research notes: they cannot name our topic ids, so each question carries the facts any right
answer must contain (`keywords`, each "a|b" meaning either) instead. Every question is asked by a
new user of `DialogManager.handle_text` (the region, when given, is the one the user already
told us), and follow-up conversations keep one user across their turns. What the user reads is
classified:

  answered     a knowledge-base answer (right when every keyword is in it)
  menu         a numbered list of topics (right when one option's answer has the keywords)
  one-option   a menu with a single option (issue 12: never acceptable)
  region       "which region?" before answering (right topic when a variant has the keywords)
  abstained    「暂时答不准」
  other        anything else (a form opened, a command's reply ...)

top-1 counts the best candidate the pipeline had: the answer, the menu's first option, the topic
whose region it asked, or, when it abstained, the retriever's own first candidate. A question the
documents do not answer (`answerable: false`) is handled honestly when it is not answered from a
topic, or is answered by an entry tagged 无公开答案 (an honest "nobody publishes this; ask X", or a
region's variant saying its document is silent), or by a general rule the reply first says is not
that place's own (「江北区的文件没有公布…，下面是国家层面的一般规定」: `Turn.caveat`).
"""
from __future__ import annotations

import re
import sys
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HONEST_TAG = "无公开答案"
_MENU_LINE = re.compile(r"^(\d+)\. (.+)$", re.M)


def fold(text: str) -> str:
    """Compare like a reader: full-width folded, case and spacing ignored."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def has_keywords(text: str, keywords: list[str]) -> bool:
    t = fold(text)
    return all(any(fold(alt) in t for alt in str(k).split("|") if alt.strip()) for k in keywords)


@dataclass
class Ask:
    q: str
    keywords: list[str]
    answerable: bool


@dataclass
class Item:
    turns: list[Ask]
    region: str | None
    source: str | None = None

    @property
    def conversation(self) -> bool:
        return len(self.turns) > 1


def load_set(path: Path) -> list[Item]:
    out = []
    for raw in yaml.safe_load(path.read_text(encoding="utf-8")):
        answerable = bool(raw.get("answerable", True))
        if "conversation" in raw:
            turns = [Ask(str(t["q"]), list(t.get("keywords") or []), bool(t.get("answerable", answerable)))
                     for t in raw["conversation"]]
        else:
            turns = [Ask(str(raw["q"]), list(raw.get("keywords") or []), answerable)]
        out.append(Item(turns, raw.get("region"), raw.get("source")))
    return out


@dataclass
class Outcome:
    ask: Ask
    kind: str
    right: bool          # what the user read is right (answered right, or honest when unanswerable)
    top1: bool
    reply: str
    topic: str | None
    follow_up: bool


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def subset(self, follow_up: bool | None = None, answerable: bool | None = None) -> list[Outcome]:
        return [o for o in self.outcomes
                if (follow_up is None or o.follow_up == follow_up)
                and (answerable is None or o.ask.answerable == answerable)]

    def lines(self) -> list[str]:
        pct = lambda a, b: f"{100 * a / max(1, b):5.1f}%"  # noqa: E731
        single = self.subset(follow_up=False)
        ans = [o for o in single if o.ask.answerable]
        un = [o for o in single if not o.ask.answerable]
        count = lambda rows, kind: sum(o.kind == kind for o in rows)  # noqa: E731
        wrong = sum(o.kind == "answered" and not o.right for o in single)
        follow = [o for o in self.subset(follow_up=True) if o.ask.answerable]
        out = [
            f"questions                {len(single)} ({len(ans)} answerable, {len(un)} not)",
            f"top-1 (answerable)       {pct(sum(o.top1 for o in ans), len(ans))}   (target >= 95%)",
            f"answered right           {pct(sum(o.kind == 'answered' and o.right for o in ans), len(ans))}",
            f"answered, any            {pct(count(ans, 'answered'), len(ans))}",
            f"menu                     {pct(count(ans, 'menu'), len(ans))}   (right option in it: "
            f"{pct(sum(o.kind == 'menu' and o.right for o in ans), max(1, count(ans, 'menu')))})",
            f"one-option menu          {pct(count(single, 'one-option'), len(single))}   (target 0)",
            f"asked the region         {pct(count(ans, 'region'), len(ans))}",
            f"abstained (answerable)   {pct(count(ans, 'abstained'), len(ans))}",
            f"other reply (answerable) {pct(count(ans, 'other'), len(ans))}",
            f"confidently wrong        {pct(wrong, len(single))}   (target <= 2%; answered wrong, or answered "
            f"an unanswerable from a topic)",
            f"unanswerable honest      {pct(sum(o.right for o in un), len(un))}",
        ]
        if follow:
            out.append(f"follow-up turns right    {pct(sum(o.kind == 'answered' and o.right for o in follow), len(follow))}"
                       f"   ({len(follow)} later turns of {len(self.subset(follow_up=True)) and len(follow)} answerable;"
                       f" top-1 {pct(sum(o.top1 for o in follow), len(follow))})")
        return out


class Asker:
    """A DialogManager on a scratch SQLite file and an in-process store: nothing shared."""

    def __init__(self, manager=None, count_caveats: bool = True):
        self.count_caveats = count_caveats
        if manager is None:
            from bot.platform.config import Settings
            from dialogs import build_manager

            self._tmp = tempfile.TemporaryDirectory()
            settings = Settings(database_url=f"sqlite:///{self._tmp.name}/blind.sqlite3", redis_url="")
            manager = build_manager(settings)
        self.m = manager
        self.kb = manager.kb
        # Menus show titles as users read them (the unnamed city under its display name).
        shown = getattr(manager, "place_names", None)
        self._titles = {(shown.for_user(self.kb.topic_title(t)) if shown else self.kb.topic_title(t)): t
                        for t in self.kb.topics}

    def new_user(self, region: str | None) -> str:
        from bot.people import users
        from bot.platform.db import transaction

        user = "oBlind" + uuid.uuid4().hex[:16]
        if region:
            with transaction(self.m.sessions) as db:
                users.touch(db, user)
                users.set_region(db, user, region)
        return user

    def _answer_text(self, topic: str, region: str | None) -> str:
        entry = self.kb.variant(topic, region) or self.kb.topics[topic][0]
        return entry.cited_answer()

    def _honest(self, topic: str | None, region: str | None) -> bool:
        """Whether the entry the user was shown says honestly that the answer is not published
        (a no-answer topic, or a region's variant saying its document is silent)."""
        if not topic or topic not in self.kb.topics:
            return False
        entry = self.kb.variant(topic, region) or self.kb.topics[topic][0]
        return HONEST_TAG in entry.tags

    def ask(self, user: str, ask: Ask, region: str | None, follow_up: bool) -> Outcome:
        turn = self.m.handle_text(user, ask.q)
        reply = turn.reply
        state = self.m.store.load(user)
        full = "\n".join([reply, *(state.get("pages") or [])])
        region_now = state.get("region") or region
        from dialogs import texts

        kw = ask.keywords
        if turn.intent in ("consult", "select") and turn.topic:
            kind, topic = "answered", turn.topic
            # Unanswerable: honest when the entry says nobody publishes it, or the reply says first
            # that the rule it gives is not this place's own (Turn.caveat).
            right = has_keywords(full, kw) if ask.answerable else (
                self._honest(topic, region_now) or self.count_caveats and getattr(turn, "caveat", None) is not None)
            top1 = right if ask.answerable else False
        elif reply.startswith(texts.CLARIFY_HEAD):
            options = [self._titles.get(t.strip()) for _, t in _MENU_LINE.findall(reply)]
            options = [o for o in options if o]
            kind = "one-option" if len(options) == 1 else "menu"
            topic = options[0] if options else None
            hits = [has_keywords(self._answer_text(o, region_now), kw) for o in options] if kw else []
            right = any(hits) if ask.answerable else True
            top1 = bool(hits and hits[0])
        elif turn.intent == "ask_region":
            kind, topic = "region", turn.topic
            variants = self.kb.topics.get(topic, [])
            top1 = bool(kw) and any(has_keywords(e.cited_answer(), kw) for e in variants)
            right = top1 if ask.answerable else True
        elif reply == texts.UNSURE or reply.startswith(texts.UNSURE[:12]):
            kind = "abstained"
            r = self.m.retriever.search(ask.q)
            topic = r.topic
            top1 = bool(kw and topic) and has_keywords(self._answer_text(topic, region_now), kw)
            right = not ask.answerable
        else:
            kind, topic = "other", turn.topic
            right = has_keywords(full, kw) if (ask.answerable and kw) else not ask.answerable
            top1 = right if ask.answerable else False
        return Outcome(ask, kind, right, top1, reply, topic, follow_up)

    def run(self, items: list[Item]) -> Report:
        report = Report()
        for item in items:
            user = self.new_user(item.region)
            for i, ask in enumerate(item.turns):
                report.outcomes.append(self.ask(user, ask, item.region, follow_up=i > 0))
        return report


def topic_labels(items: list[Item], retriever, kb, depth: int = 10) -> list[tuple[str, str | None, str | None]]:
    """(question, topic, region) for calibration (bench/kb_eval.py --calibrate): a keyword set once it
    has been studied becomes development data, and a question's topic is the first of its `depth`
    best candidates whose answer for its region holds every keyword (None for an unanswerable
    one; questions no candidate answers are left out). Single questions only."""
    from dataclasses import replace

    shipped = retriever.thresholds
    retriever.thresholds = replace(shipped, answer=0.0)
    out = []
    try:
        for item in items:
            if item.conversation:
                continue
            ask = item.turns[0]
            if not ask.answerable:
                out.append((ask.q, None, item.region))
                continue
            r = retriever.search_uncached(ask.q, k=depth)
            for c in r.candidates:
                entry = kb.variant(c.topic, item.region) or kb.topics[c.topic][0]
                if has_keywords(entry.cited_answer(), ask.keywords):
                    out.append((ask.q, c.topic, item.region))
                    break
    finally:
        retriever.thresholds = shipped
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set", type=Path, help="a keyword-labelled set, e.g. bench/data/kb_blind_g.yaml")
    ap.add_argument("--errors", action="store_true", help="list every question not answered right")
    ap.add_argument("--no-caveats", action="store_true",
                    help="the older, stricter rule: a general answer saying it is not the place's own still "
                         "counts as wrong on an unanswerable question")
    args = ap.parse_args(argv)
    items = load_set(args.set)
    report = Asker(count_caveats=not args.no_caveats).run(items)
    print(f"blind set {args.set.name}: {len(items)} items, {len(report.outcomes)} turns")
    for line in report.lines():
        print("  " + line)
    if args.errors:
        print("\nnot answered right:")
        for o in report.outcomes:
            if o.ask.answerable and not (o.kind == "answered" and o.right) or (not o.ask.answerable and not o.right):
                first = o.reply.replace("\n", " ⏎ ")[:110]
                print(f"  [{o.kind}{' follow' if o.follow_up else ''} {o.topic}] {o.ask.q!r} want {o.ask.keywords}\n"
                      f"      got: {first}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
