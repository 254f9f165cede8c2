"""转人工 in the chat: which question goes to a person, and to whose people.

A user with a case is routed by it (bot/casework/handoffs.py). Anyone else needs a region: their profile's
(told once, kept), the one their question names, or the one they named earlier in the
conversation; with none of these, the bot asks which region first (by number, name, or a name
with a slip in it) and then hands over.
"""
from __future__ import annotations

import time

from sqlalchemy.orm import Session, sessionmaker

from bot.casework import handoffs
from bot.models import Case, Staff
from bot.people import users
from bot.platform.config import Settings
from bot.platform.db import transaction
from knowledge import KnowledgeBase

from . import texts
from .nlu import YES_WORDS, RegionReading, Understanding, clean, handoff_question, is_question, read_region

REGION_KEY = "handoff_region"  # state: the question waiting for its region
ASKED_KEY = "asked"  # state: the user's last question, what a bare 「转人工」 hands over
NAMED_KEY = "region_named"  # state: the last region the user named while consulting
ASKED_FRESH_S = 3600  # a question older than this is not what 「转人工」 means
QUOTE_MAX = 40
ANSWER_ONLY_MAX = 8  # a longer reply to the region question that asks something is a question too

class HandoffDialog:
    def __init__(self, kb: KnowledgeBase, sessions: sessionmaker[Session], settings: Settings):
        self.kb = kb
        self.sessions = sessions
        self.settings = settings

    def noticed(self, text: str, state: dict) -> None:
        """Note what a consultation message tells 转人工: a question (「转人工」 right after it hands
        it over) and a region it names (「我们项目在东湖」: not asked again)."""
        if is_question(text):
            state[ASKED_KEY] = {"text": text, "at": time.time()}
        if named := self.kb.find_region(text):
            state[NAMED_KEY] = named

    def hand_over(self, user: str, question: str, state: dict, region: str | None) -> str:
        """The reply to 「转人工」: the handoff opened, or the question asked for, or its region."""
        asked = state.pop(ASKED_KEY, None) or {}
        unanswered = state.pop("unanswered", "")
        recent = asked.get("text", "") if time.time() - asked.get("at", 0) < ASKED_FRESH_S else ""
        question = question or recent or unanswered
        if not question:
            state["awaiting_handoff"] = True
            return texts.HANDOFF_ASK
        region = region or self.kb.find_region(question) or state.get(NAMED_KEY)
        with transaction(self.sessions) as db:
            if region is None and handoffs.needs_region(db, user):
                state[REGION_KEY] = {"question": question}
                return self._region_question(texts.HANDOFF_WHICH_REGION)
            return self._opened(db, user, region, question)

    def region_reply(self, user: str, u: Understanding, state: dict) -> str:
        """The reply to the region question: the handoff opened, or the question again (a reply
        that names no region changes nothing)."""
        pending = state[REGION_KEY]
        if u.intent == "cancel":
            del state[REGION_KEY]
            return texts.HANDOFF_REGION_CANCELLED
        if u.intent == "human":  # 「转人工：还有…」 again: one more question for the same person
            if more := handoff_question(u.text):
                pending["question"] += "\n" + more
            return self._region_question(texts.HANDOFF_WHICH_REGION)
        guess = pending.pop("guess", None)
        reading = RegionReading("region", guess) if guess and clean(u.text) in YES_WORDS else read_region(self.kb, u.text)
        if reading.kind == "none":
            return self._region_question(texts.HANDOFF_REGION_AGAIN)
        if reading.kind == "guess":
            pending["guess"] = reading.region
            return self._region_question(texts.HANDOFF_REGION_GUESS.format(region=self.kb.regions[reading.region].name))
        del state[REGION_KEY]
        question = pending["question"]
        if is_question(u.text) and len(clean(u.text)) > ANSWER_ONLY_MAX:  # 「东湖的，道路开口还要办啥」 answers and asks
            question += "\n" + u.text
        # None of ours, but the supervisor should know where it is.
        handed = texts.HANDOFF_PLACE_NOTE.format(place=reading.place, question=question) if reading.place else question
        with transaction(self.sessions) as db:
            if reading.region:
                users.set_region(db, user, reading.region)  # told once, never asked again
            reply = self._opened(db, user, reading.region, handed, shown=question)
        if reading.region:
            state["region"] = reading.region
        return reply

    def _region_question(self, head: str) -> str:
        lines = [f"{i}. {r.name}" for i, r in enumerate(self.kb.regions.values(), 1)]
        return "\n".join([head, *lines, texts.HANDOFF_REGION_TAIL])

    def _opened(self, db: Session, user: str, region: str | None, question: str, shown: str | None = None) -> str:
        h = handoffs.open_handoff(db, user, region, question, console_url=self.settings.public_url)
        if h.commissioner_id and (person := db.get(Staff, h.commissioner_id)) is not None:
            case = db.get(Case, h.case_id) if h.case_id else None
            who = (texts.HANDOFF_TO_CASE_COMMISSIONER.format(number=case.number, name=person.name) if case
                   else texts.HANDOFF_TO_COMMISSIONER.format(name=person.name))
        elif h.region in self.kb.regions:
            who = texts.HANDOFF_TO_REGION.format(region=self.kb.regions[h.region].name)
        else:
            who = texts.HANDOFF_TO_SUPERVISOR
        shown = shown or question
        shown = shown if len(shown) <= QUOTE_MAX else shown[:QUOTE_MAX - 1] + "…"
        return texts.HANDOFF_OPENED.format(question=shown, who=who, id=h.id)
