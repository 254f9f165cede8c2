"""One turn of the conversation: load state → understand → decide → act → save.

The webhook, `bangban ask` and `bangban chat` all come through `DialogManager.handle_text`, so
what a test sees on the command line is what a WeChat user gets.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot import kb_log, users
from bot.db import transaction
from knowledge import KnowledgeBase, Result, Retriever
from knowledge.text import normalize

from . import texts
from .nlu import Understanding, understand
from .paging import split_pages
from .state import ConversationStore


@dataclass
class Turn:
    """What the user gets back for one message, and why (for tests, logs and `ask --json`)."""

    reply: str
    intent: str
    topic: str | None = None
    confidence: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class DialogManager:
    def __init__(self, kb: KnowledgeBase, retriever: Retriever, store: ConversationStore,
                 sessions: sessionmaker[Session]):
        self.kb = kb
        self.retriever = retriever
        self.store = store
        self.sessions = sessions

    # -- entry points ---------------------------------------------------------------------

    def handle_text(self, user: str, text: str) -> Turn:
        with self.store.turn(user):
            state = self.store.load(user)
            u = understand(text)
            with transaction(self.sessions) as db:
                users.touch(db, user)
                turn = self._decide(user, u, state, db)
            if u.intent != "more":
                turn.reply = self._first_page(turn.reply, state)
            self.store.save(user, state)
            return turn

    def handle_event(self, user: str, event: str) -> Turn | None:
        """Follow / unfollow. Other events get no reply (WeChat accepts an empty `success`)."""
        with transaction(self.sessions) as db:
            if event == "subscribe":
                users.touch(db, user, subscribed=True)
                return Turn(texts.WELCOME, "subscribe")
            if event == "unsubscribe":
                users.touch(db, user, subscribed=False)
        return None

    # -- decisions ------------------------------------------------------------------------

    def _decide(self, user: str, u: Understanding, state: dict, db: Session) -> Turn:
        menu = state.pop("menu", None)  # a menu answers only the very next message
        if u.intent == "more":
            return self._more(state)
        state.pop("pages", None)
        if u.intent == "select" and menu:
            return self._select(user, u.number, menu, state, db)
        if u.intent == "other_region" and menu and menu.get("kind") == "regions":
            return self._answer_topic(menu["topic"], None, state, region_known=True)
        if u.intent == "empty":
            return Turn(texts.EMPTY, "empty")
        if u.intent == "greet":
            return Turn("您好！我是帮办通。\n" + texts.MENU, "greet")
        if u.intent == "help":
            return Turn(texts.MENU, "help")
        if u.intent == "thanks":
            return Turn(texts.THANKS, "thanks")
        if u.intent == "human":
            return Turn(texts.HUMAN, "human")
        if u.intent == "select":  # a bare number with no menu open
            return Turn(texts.MENU_EXPIRED, "select")
        return self._consult(user, u.text, state, db)

    def _consult(self, user: str, text: str, state: dict, db: Session) -> Turn:
        result = self.retriever.search(text)
        kb_log.record(db, user, text, normalize(text), _outcome(result), result.topic, result.confidence)
        if result.kind == "unsure":
            return Turn(texts.UNSURE, "consult", None, result.confidence)
        if result.kind == "clarify":
            options = [c.topic for c in result.candidates]
            state["menu"] = {"kind": "topics", "options": options}
            lines = [f"{i}. {self.kb.topic_title(t)}" for i, t in enumerate(options, 1)]
            reply = "\n".join([texts.CLARIFY_HEAD, *lines, texts.CLARIFY_TAIL])
            return Turn(reply, "consult", None, result.confidence)
        region = self.kb.find_region(text) or users.region_of(db, user)
        turn = self._answer_topic(result.topic, region, state)
        turn.confidence = result.confidence
        return turn

    def _answer_topic(self, topic: str, region: str | None, state: dict, region_known: bool = False) -> Turn:
        entry = self.kb.variant(topic, region)
        if entry is None and not region_known:
            options = [r for r in self.kb.regions if r in self.kb.region_regional_topics(topic)]
            state["menu"] = {"kind": "regions", "options": options, "topic": topic}
            lines = [f"{i}. {self.kb.regions[r].name}" for i, r in enumerate(options, 1)]
            return Turn("\n".join([texts.ASK_REGION_HEAD, *lines, texts.ASK_REGION_TAIL]), "ask_region", topic)
        if entry is None:  # no general variant exists: the first region's is the honest best
            entry = self.kb.topics[topic][0]
        state["last_topic"] = topic
        return Turn(entry.cited_answer(), "consult", topic)

    def _select(self, user: str, number: int, menu: dict, state: dict, db: Session) -> Turn:
        options = menu.get("options") or []
        if not 1 <= number <= len(options):
            state["menu"] = menu  # keep it open: the user only mistyped
            return Turn(texts.MENU_OUT_OF_RANGE.format(n=len(options)), "select")
        choice = options[number - 1]
        if menu.get("kind") == "regions":
            users.set_region(db, user, choice)
            turn = self._answer_topic(menu["topic"], choice, state)
            turn.reply = texts.REGION_SET.format(region=self.kb.regions[choice].name) + "\n" + turn.reply
            return turn
        region = users.region_of(db, user)
        turn = self._answer_topic(choice, region, state)
        turn.intent = "select"
        return turn

    # -- long replies ---------------------------------------------------------------------

    @staticmethod
    def _first_page(reply: str, state: dict) -> str:
        pages = split_pages(reply, texts.MORE_HINT)
        if len(pages) > 1:
            state["pages"] = pages[1:]
        return pages[0]

    @staticmethod
    def _more(state: dict) -> Turn:
        pages = state.get("pages") or []
        if not pages:
            return Turn(texts.NO_MORE, "more")
        page, rest = pages[0], pages[1:]
        if rest:
            state["pages"] = rest
        else:
            state.pop("pages", None)
        return Turn(page, "more")


def _outcome(result: Result) -> str:
    return {"answer": "answered", "clarify": "clarified"}.get(result.kind, "unsure")
