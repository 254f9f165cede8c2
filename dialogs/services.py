"""What a conversation and the staff console stand on, built once per process by one builder.

`build_services` opens the database, the shared store and the knowledge base from the settings;
`create_app` (webhook/__init__.py) builds the dialog manager on them and keeps them in
`app.extensions["bangban_services"]` for the console; the rasa-sdk actions get theirs from
whoever runs them: in process the manager builds them on its own; under `python -m rasa_sdk
--actions dialogs.actions`, they use the server's own (dialogs/actions/runtime.py), from this same builder.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from bot.platform import clock as service_clock
from bot.platform.config import Settings
from bot.platform.db import open_database
from bot.platform.kv import KV, make_kv
from bot.platform.workdays import WorkCalendar, load_calendar
from knowledge import KnowledgeBase, Retriever
from knowledge.cache import load_retriever

from .state import ConversationStore


class Clock(Protocol):
    """Service time (bot/platform/clock.py is the one every process uses; a test may hand in another)."""

    def now(self) -> datetime: ...

    def today(self) -> date: ...


@dataclass
class Services:
    settings: Settings
    sessions: sessionmaker[Session]  # the database
    kv: KV  # the shared store (Redis, or in-process memory): locks, retry marks, throttles
    store: ConversationStore  # per-user conversation state, on `kv`
    kb: KnowledgeBase
    retriever: Retriever
    calendar: WorkCalendar  # working days and holidays, for due dates
    clock: Clock = service_clock


def build_services(settings: Settings, kb: KnowledgeBase | None = None, kv: KV | None = None,
                   retriever: Retriever | None = None, calendar: WorkCalendar | None = None) -> Services:
    """The services `settings` describe; a test or bench hands in the parts it built itself."""
    if retriever is None:
        retriever = Retriever(kb) if kb is not None else load_retriever(settings.kb_cache_dir)
    kv = kv or make_kv(settings.redis_url)
    return Services(settings=settings, sessions=open_database(settings.database_url), kv=kv,
                    store=ConversationStore(kv, ttl_s=settings.conversation_ttl_s), kb=kb or retriever.kb,
                    retriever=retriever, calendar=calendar or load_calendar())
