"""好差评 in chat: «评价» (or a direct answer to the invitation, «5 很好», «不满意，太慢了»,
even days later) → which case (when several) → level 5..1 → 效率/态度/廉洁 (optional) → comment
(optional). The level is saved as soon as it is given, so a bad rating reaches the supervisor even
if the user stops answering; the rest only adds to it.

The conversation lives in one slot, `rating` (a dict: step, case, options, ...). `rating_turn` is
the manager's hook: it runs the manager's own ActionRating (built on its services) like any rasa-sdk
action and says whether the message was the rating conversation's at all (`rating_handled`).
"""
from __future__ import annotations

import re
import time
import unicodedata
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet

from bot.casework import cases
from bot.models import Rectification
from bot.platform import clock, region_tiers
from bot.platform.db import transaction
from bot.supervision import ratings
from bot.supervision.ratings import LEVELS, RatingError
from bot.vocabulary import CaseState

from ..forms import run_action
from ..nlu import clean, entity_in, menu_number, question_word_in
from ..services import Services
from ..texts import rating as T
from ..texts.service import ARCHIVED_REFUSED
from .service import HandedServices

if TYPE_CHECKING:  # the executor pulls in pydantic (~70 ms), which only a form run needs
    from rasa_sdk.executor import CollectingDispatcher

# Moves that leave the rating conversation for the normal dialog (the rating given so far stays).
LEAVE = {"progress", "urge", "notice", "apply", "apply_bangban", "apply_daiban", "human", "help",
         "accept_case", "greet"}
MAX_TRIES = 3
# An unanswered rating question expires: «3» typed tomorrow is not an answer to it any more.
STATE_TTL_S = 3600

_PUNCT = " \t\r\n，,。.!！、:：;；-—~～…"
_UNIT = re.compile(r"^(分钟|天|个|号|月|年|日|层|万|千|百|期|楼|栋|点|项|件|份|次|周|小时|钟|[.．]?\d|%|平|米|亩|元|块)")
_CN = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_NUM_RE = re.compile(r"^([1-5]|[一二两三四五])\s*(分(?!钟)|星|颗星|个星)?(?![0-9])(.*)$", re.DOTALL)
_PREFIX = r"(?:我们?|总体|整体|总的来说|感觉|觉得|对|这次|本次|服务|评价|给|挺|都|还算|的|[:：,， ])*"
_WORDS = [("非常不满意", 1), ("很不满意", 1), ("特别不满意", 1), ("十分不满意", 1), ("极不满意", 1), ("不太满意", 2),
          ("不满意", 2), ("非常满意", 5), ("很满意", 5), ("特别满意", 5), ("十分满意", 5), ("超满意", 5), ("太满意", 5),
          ("基本满意", 3), ("比较满意", 4), ("挺满意", 4), ("满意", 4)]
_LOOSE_WORDS = [("一般般", 3), ("一般", 3), ("还行", 3), ("还可以", 3), ("凑合", 3)]
_PARTICLES = re.compile(r"^[了的啊呀吧哈嘛哦噢喔呢!！~～。.]*$")
_TRIGGER_PREFIX = re.compile(r"^\s*(我要|我想|我来|给|帮我)?(修改|重新)?(评价|打分|评分)(一下|下)?[:：\s,，]*")

_DIM_KEYS = {"效率": "efficiency", "速度": "efficiency", "态度": "attitude", "廉洁": "integrity", "廉政": "integrity"}
_DIM_RE = re.compile(r"(效率|速度|态度|廉洁|廉政)\s*[:：为是给打]?\s*([1-5一二两三四五])")
_THREE_RE = re.compile(r"^\s*([1-5])[\s,，、/]*([1-5])[\s,，、/]*([1-5])\s*分?\s*$")
_ALL_RE = re.compile(r"(都|全部?|均|全都|一律)(是|给|打)?\s*([1-5一二两三四五])")
_SKIP_RE = re.compile(r"^(跳过|不用了?|没有了?|没了|无|不评了?|不打了?|算了|略过?|不了|pass|skip|下一步|否|不|不想评|没什么|"
                      r"没意见|没有意见|没啥|谢谢|好的|ok|就这样|没有别的|没别的|没有什么)[了啊吧!！。.]*$")


def _score(token: str) -> int:
    return int(token) if token.isdigit() else _CN[token]


def _normalized(text: str) -> tuple[str, list[int]]:
    """`text` in NFKC (full-width digits and punctuation as ASCII) for the rules to read, and for
    each of its characters the index in `text` it came from (plus the end), so that the part of
    a message kept as the comment is cut from what the user typed, 「，」 and all."""
    out, where = [], []
    for i, ch in enumerate(text):
        piece = unicodedata.normalize("NFKC", ch)
        out.append(piece)
        where.extend([i] * len(piece))
    where.append(len(text))
    return "".join(out), where


def parse_level(text: str, strict: bool) -> tuple[int, str] | None:
    """(level, comment) when the message gives a rating level first; the comment is as typed.
    `strict` (no rating conversation open) turns away anything that might mean something else:
    «3天能办完吗»."""
    typed = text or ""
    t, where = _normalized(typed)
    start = len(t) - len(t.lstrip())  # where `t` below begins in the normalized message
    t = t.strip()
    if prefix := _TRIGGER_PREFIX.match(t):
        start, t = start + prefix.end(), t[prefix.end():]
    level, rest_at = None, len(t)
    m = _NUM_RE.match(t)
    if m and (m.group(1).isdigit() or m.group(2) or not m.group(3).strip()):
        if not _UNIT.match(m.group(3).lstrip()) or m.group(2):
            level, rest_at = _score(m.group(1)), m.start(3)
    if level is None:
        words = _WORDS if strict else _WORDS + _LOOSE_WORDS
        alternation = "|".join(re.escape(w) for w, _ in words)
        w = re.match(rf"^{_PREFIX}({alternation})(.*)$", t, re.DOTALL)
        if w and not w.group(2).startswith("度"):
            level, rest_at = dict(words)[w.group(1)], w.start(2)
    if level is None:
        return None
    rest = t[rest_at:].strip(_PUNCT)  # what the rules read
    if strict and question_word_in(rest):
        return None
    if _PARTICLES.match(rest):
        return level, ""
    # The separator after the level goes («5，很好»); the comment's own punctuation stays («很好！»).
    return level, typed[where[start + rest_at]:].lstrip(_PUNCT + "\u3000").rstrip()


def split_dimensions(text: str) -> tuple[dict, str]:
    """The named 效率/态度/廉洁 scores in a message and what is left of it, as typed (the comment):
    「效率5 态度5 廉洁5 服务很好」 → ({efficiency: 5, attitude: 5, integrity: 5}, "服务很好")."""
    typed = text or ""
    t, where = _normalized(typed)
    spans = [(where[m.start()], where[m.end()]) for m in _DIM_RE.finditer(t)]
    found = {_DIM_KEYS[k]: _score(v) for k, v in _DIM_RE.findall(t)}
    rest = typed
    if spans:  # the scores out, each gap closed to one space
        kept = [typed[end:begin] for (_, end), (begin, _) in zip([(0, 0), *spans], [*spans, (len(typed), 0)])]
        rest = re.sub(r"\s{2,}", " ", " ".join(kept))
    return found, re.sub(r"^[\s,，;；、。.]+|[\s,，;；、]+$", "", rest)


def parse_dimensions(text: str) -> dict | str | None:
    """{"efficiency": 5, ...}, "skip", or None when the message is neither."""
    t = unicodedata.normalize("NFKC", text or "").strip()
    if _SKIP_RE.match(clean(t)):
        return "skip"
    found = {_DIM_KEYS[k]: _score(v) for k, v in _DIM_RE.findall(t)}
    if found:
        return found
    m = _THREE_RE.match(t)
    if m:
        return dict(zip(("efficiency", "attitude", "integrity"), (int(g) for g in m.groups())))
    m = _ALL_RE.search(t)
    if m and not re.search(r"\d{2}", t):
        return dict.fromkeys(("efficiency", "attitude", "integrity"), _score(m.group(3)))
    return None


def _case_line(i: int, case) -> str:
    return T.CASE_LINE.format(i=i, number=case.number, project=case.project_name, state=cases.CASE_STATES[case.state])


class ActionRating(HandedServices, Action):
    def name(self) -> str:
        return "action_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        msg = tracker.latest_message or {}
        text = msg.get("text") or ""
        intent = (msg.get("intent") or {}).get("name", "")
        number = entity_in(msg, "case_number")
        st = dict(tracker.get_slot("rating") or {})
        flow = _Flow(tracker.sender_id, dispatcher, self.services)
        triggered = intent == "rate" or (intent == "edit" and "评价" in text)
        if not st or triggered:
            new, handled = flow.start(text, triggered, number)
        else:
            new, handled = flow.step(st, text, intent, number)
        new, handled = flow.given_dimensions(new, handled)
        return [SlotSet("rating", new), SlotSet("rating_handled", handled)]


class _Flow:
    def __init__(self, user: str, dispatcher: CollectingDispatcher, services: Services):
        self.user = user
        self.say = lambda text: dispatcher.utter_message(text=text)
        self.rt = services

    # -- entry ----------------------------------------------------------------------------

    def start(self, text: str, triggered: bool, number: str | None) -> tuple[dict | None, bool]:
        direct = parse_level(text, strict=not triggered)
        with transaction(self.rt.sessions) as db:
            waiting = ratings.awaiting(db, self.user)
            if number:
                waiting = [c for c in waiting if c.number == number]
            if not waiting:
                if not triggered:
                    return None, False  # «5» from someone with nothing to rate: not ours
                return self._already_rated(db, number, direct)
            if len(waiting) > 1:
                options = [c.number for c in waiting[:9]]
                self.say(T.ASK_CASE.format(n=len(options), lines="\n".join(
                    _case_line(i, c) for i, c in enumerate(waiting[:9], 1))))
                return {"step": "choose", "options": options, "pending": list(direct) if direct else None}, True
            case = waiting[0]
            if direct:
                return self._record(db, case, *direct, correcting=False), True
            self.say(T.ASK_LEVEL.format(number=case.number, project=case.project_name, mode=case.mode))
            return {"step": "level", "case": case.number, "tries": 0}, True

    def _already_rated(self, db, number: str | None, direct) -> tuple[dict | None, bool]:
        rated = ratings.rated_cases(db, self.user)
        if number:
            rated = [(c, r) for c, r in rated if c.number == number]
        if not rated:
            self.say(T.NOTHING_TO_RATE)
            return None, True
        case, rating = rated[0]
        if case.state == CaseState.ARCHIVED:  # issue 17 item 5: the archived record is closed
            self.say(ARCHIVED_REFUSED.format(number=case.number))
            return None, True
        if not ratings.may_correct(rating, self.rt.settings):
            self.say(ratings.correction_closed_text(case, rating, self.rt.settings))
            return None, True
        if direct:  # «评价 3 还需改进»: the change in one message
            return self._record(db, case, *direct, correcting=True), True
        self.say(T.ALREADY_RATED.format(number=case.number, summary=ratings.summary(rating),
                                        deadline=self._deadline(rating)))
        return {"step": "level", "case": case.number, "tries": 0, "correcting": True}, True

    # -- one step of an open conversation -------------------------------------------------

    def step(self, st: dict, text: str, intent: str, number: str | None) -> tuple[dict | None, bool]:
        step = st.get("step")
        if step in ("choose", "level") and intent == "cancel":
            self.say(T.CANCELLED)
            return None, True
        if step == "choose":
            return self._choose(st, text, intent, number)
        if step == "level":
            return self._level(st, text, intent)
        if step == "dims":
            return self._dims(st, text, intent)
        if step == "comment":
            return self._comment(st, text, intent)
        return None, False

    def _choose(self, st: dict, text: str, intent: str, number: str | None):
        options = st.get("options") or []
        n = menu_number(clean(text))
        chosen = number if number in options else (options[n - 1] if n and 1 <= n <= len(options) else None)
        if chosen is None:
            if intent in LEAVE or (intent == "consult" and question_word_in(text)):
                return None, False
            st["tries"] = st.get("tries", 0) + 1
            if st["tries"] >= MAX_TRIES:
                self.say(T.GIVE_UP)
                return None, True
            self.say(T.ASK_CASE_AGAIN.format(n=len(options)))
            return st, True
        with transaction(self.rt.sessions) as db:
            case = cases.by_number(db, chosen)
            if st.get("pending"):
                level, comment = st["pending"]
                return self._record(db, case, level, comment, correcting=False), True
            self.say(T.ASK_LEVEL.format(number=case.number, project=case.project_name, mode=case.mode))
        return {"step": "level", "case": chosen, "tries": 0}, True

    def _level(self, st: dict, text: str, intent: str):
        parsed = parse_level(text, strict=False)
        if parsed is None and st.get("correcting") and (_SKIP_RE.match(clean(text)) or "不改" in text):
            self.say(T.UNCHANGED)
            return None, True
        if parsed is None:
            if intent in LEAVE or (intent == "consult" and question_word_in(text) and not re.search(r"\d|满意", text)):
                return None, False
            st["tries"] = st.get("tries", 0) + 1
            if st["tries"] >= MAX_TRIES:
                self.say(T.GIVE_UP)
                return None, True
            self.say(T.ASK_LEVEL_AGAIN)
            return st, True
        with transaction(self.rt.sessions) as db:
            case = cases.by_number(db, st["case"])
            return self._record(db, case, *parsed, correcting=bool(st.get("correcting"))), True

    def _dims(self, st: dict, text: str, intent: str):
        parsed = "skip" if intent in ("cancel", "thanks") else parse_dimensions(text)
        if parsed is None:
            if intent in LEAVE or (question_word_in(text) and not re.search(r"效率|态度|廉洁", text)):
                return None, False
            if not re.search(r"\d|[一二两三四五]分|效率|态度|廉洁", text) and not st.get("has_comment") \
                    and len(clean(text)) >= 2:
                return self._save_comment(st, text)  # they skipped ahead to the comment
            st["tries"] = st.get("tries", 0) + 1
            if st["tries"] >= MAX_TRIES - 1:
                self.say(T.THANKS)
                return None, True
            self.say(T.ASK_DIMENSIONS_AGAIN)
            return st, True
        if parsed != "skip" and not self._details(st, **parsed):
            return None, True
        if st.get("has_comment"):
            return self._finish(st)
        self.say(T.ASK_COMMENT)
        return {**st, "step": "comment", "tries": 0}, True

    def _comment(self, st: dict, text: str, intent: str):
        if intent in ("cancel", "thanks") or _SKIP_RE.match(clean(text)):
            return self._finish(st)
        if intent in LEAVE - {"urge"}:  # «太慢了» is a comment here, not a 催办
            return None, False
        return self._save_comment(st, text)

    # -- effects --------------------------------------------------------------------------

    def _record(self, db, case, level: int, comment: str, correcting: bool) -> dict | None:
        """Record the level (and comment) inside the caller's transaction. Scores for 效率/态度/廉洁
        given in the same message are split off the comment and left in the returned state as
        "dims", for `given_dimensions` to store once that transaction has committed."""
        dims, comment = split_dimensions(comment)
        settings = self.rt.settings
        try:
            outcome = ratings.record(db, case, self.user, level, comment=comment or None, settings=settings,
                                     calendar=self.rt.calendar, console_url=settings.public_url)
        except RatingError as err:
            self.say(str(err))
            return None
        lines = [(T.CHANGED if outcome.changed else T.RECORDED).format(number=case.number, level=LEVELS[level])]
        if ratings.is_bad(level):
            rect = outcome.rectification or db.scalar(
                sa.select(Rectification).where(Rectification.rating_id == outcome.rating.id))
            # a 镇's case (regions in tiers) is named by its document region, as the knowledge base knows it
            region = self.rt.kb.regions.get(region_tiers.root(case.region)) if self.rt.kb else None
            who = T.SORRY_WHO.format(region=region.short if region else "") if outcome.supervisor else T.SORRY_NOBODY
            name = outcome.supervisor.name if outcome.supervisor else ""
            lines.append(T.SORRY.format(who=who, name=name, due=ratings.due_text(rect.due_date)))
        if not dims:
            lines.append(T.ASK_DIMENSIONS)
        self.say("\n".join(lines))
        st = {"step": "dims", "case": case.number, "tries": 0, "level": level, "has_comment": bool(comment),
              "correcting": correcting or outcome.changed}
        return {**st, "dims": dims} if dims else st

    def given_dimensions(self, st: dict | None, handled: bool) -> tuple[dict | None, bool]:
        """Store the dimensions a one-message rating gave (「非常满意 效率5 态度5 廉洁5 服务很好」),
        then go on as if they had been answered at their own question."""
        if not st or "dims" not in st:
            return st, handled
        st = dict(st)
        if not self._details(st, **st.pop("dims")):
            return None, True
        if st.get("has_comment"):
            return self._finish(st)
        self.say(T.ASK_COMMENT)
        return {**st, "step": "comment", "tries": 0}, True

    def _details(self, st: dict, **fields) -> bool:
        with transaction(self.rt.sessions) as db:
            case = cases.by_number(db, st["case"])
            try:
                ratings.add_details(db, case, self.user, settings=self.rt.settings, **fields)
            except RatingError as err:
                self.say(str(err))
                return False
        return True

    def _save_comment(self, st: dict, text: str):
        if not self._details(st, comment=text):
            return None, True
        return self._finish({**st, "has_comment": True})

    def _finish(self, st: dict):
        level = st.get("level") or 0
        lines = [T.THANKS_GOOD if level >= 4 else T.THANKS]
        if not st.get("correcting"):
            with transaction(self.rt.sessions) as db:
                case = cases.by_number(db, st["case"])
                rating = ratings.rating_of(db, case) if case else None
                if rating is not None and ratings.may_correct(rating, self.rt.settings):
                    lines.append(T.CORRECT_HINT.format(deadline=self._deadline(rating)))
        self.say("\n".join(lines))
        return None, True

    def _deadline(self, rating) -> str:
        return clock.local_text(ratings.correction_deadline(rating, self.rt.settings))


def rating_turn(action: ActionRating, user: str, text: str, intent: str, entities: dict, state: dict) -> str | None:
    """The manager's hook (it hands in its own ActionRating, built on its services): the reply
    when this message belongs to the rating conversation (and the conversation's state updated in
    `state["rating"]`), else None and nothing changed."""
    current = state.get("rating")
    if current and time.time() - current.get("at", 0) > STATE_TTL_S:
        state.pop("rating", None)
        current = None
    triggered = intent == "rate" or (intent == "edit" and "评价" in text)
    if not current and not triggered and parse_level(text, strict=True) is None:
        return None  # the common case: no database look-up at all
    messages, events = run_action(action, user, {"rating": current}, text, intent=intent, entities=entities)
    values = {e["name"]: e.get("value") for e in events if e.get("event") == "slot"}
    if values.get("rating"):
        state["rating"] = {**values["rating"], "at": time.time()}
    else:
        state.pop("rating", None)
    if not values.get("rating_handled"):
        return None
    return "\n\n".join(messages)
