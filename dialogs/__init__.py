"""Dialog manager: understands each message and decides the reply (see manager.py)."""
from __future__ import annotations

from bot.config import Settings
from bot.db import open_database
from bot.kv import KV, make_kv
from bot.workdays import WorkCalendar, load_calendar
from knowledge import KnowledgeBase, Retriever
from knowledge.cache import load_retriever

from .actions import runtime
from .manager import DialogManager, Turn
from .state import ConversationStore

__all__ = ["DialogManager", "Turn", "build_manager"]


def build_manager(settings: Settings, kb: KnowledgeBase | None = None, kv: KV | None = None,
                  retriever: Retriever | None = None, calendar: WorkCalendar | None = None) -> DialogManager:
    """Wire the dialog manager and its actions to the knowledge base, state store and database."""
    if retriever is None:
        retriever = Retriever(kb) if kb is not None else load_retriever(settings.kb_cache_dir)
    kb = kb or retriever.kb
    sessions = open_database(settings.database_url)
    runtime.configure(runtime.Runtime(settings, kb, retriever, sessions, calendar or load_calendar()))
    return DialogManager(kb=kb, retriever=retriever,
                         store=ConversationStore(kv or make_kv(settings.redis_url), ttl_s=settings.conversation_ttl_s),
                         sessions=sessions, settings=settings)
