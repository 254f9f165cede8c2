"""One message's outcome, shared by the manager and what it delegates to (events.py)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Turn:
    """What the user gets back for one message, and why (for tests, logs and `ask --json`)."""

    reply: str
    intent: str
    topic: str | None = None
    confidence: float | None = None
    # Why the answer is not the region's own: "region_silent" (its document sets nothing of its
    # own here), "other_region" (only another region's document does), "other_place" (a place
    # whose rules we do not hold). The reply says so first.
    caveat: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)
