"""Dialog manager: understands each message and decides the reply (see manager.py)."""
from __future__ import annotations

from bot.config import Settings
from bot.db import open_database
from bot.kv import KV, make_kv
from knowledge import KnowledgeBase, Retriever, load

from .manager import DialogManager, Turn
from .state import ConversationStore

__all__ = ["DialogManager", "Turn", "build_manager"]


def build_manager(settings: Settings, kb: KnowledgeBase | None = None, kv: KV | None = None,
                  retriever: Retriever | None = None) -> DialogManager:
    """Wire the dialog manager to its knowledge base, state store and database."""
    kb = kb or load()
    kv = kv or make_kv(settings.redis_url)
    return DialogManager(
        kb=kb,
        retriever=retriever or Retriever(kb),
        store=ConversationStore(kv, ttl_s=settings.conversation_ttl_s),
        sessions=open_database(settings.database_url),
    )
