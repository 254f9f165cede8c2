"""Curated knowledge base and retrieval. Pure: imports nothing of bot, dialogs or webhook."""
from .loader import DATA_DIR, KnowledgeBase, check, load
from .retriever import Candidate, Result, Retriever, Thresholds

__all__ = ["DATA_DIR", "KnowledgeBase", "check", "load", "Candidate", "Result", "Retriever", "Thresholds"]
