"""What the actions need (knowledge base, database, calendar, settings).

In process, build_manager() configures it. Under the rasa-sdk action server
(`python -m rasa_sdk --actions dialogs.actions`) nothing configured it, so the first action builds
it from the environment, exactly as the webhook would.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.workdays import WorkCalendar
from knowledge import KnowledgeBase, Retriever


@dataclass
class Runtime:
    settings: Settings
    kb: KnowledgeBase
    retriever: Retriever
    sessions: sessionmaker[Session]
    calendar: WorkCalendar


_current: Runtime | None = None
_guard = threading.Lock()


def configure(runtime: Runtime) -> None:
    global _current
    _current = runtime


def get() -> Runtime:
    global _current
    if _current is None:
        with _guard:
            if _current is None:
                from bot.config import load_settings
                from bot.db import open_database
                from bot.workdays import load_calendar
                from knowledge.cache import load_retriever

                settings = load_settings()
                retriever = load_retriever(settings.kb_cache_dir)
                _current = Runtime(settings, retriever.kb, retriever, open_database(settings.database_url),
                                   load_calendar())
    return _current
