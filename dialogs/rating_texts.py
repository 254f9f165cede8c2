"""Moved to dialogs/texts/rating.py (`texts.rating`); this name is kept for imports that still use
it (tests/test_rating.py) and goes once they read `dialogs.texts.rating`."""
from .texts.rating import *  # noqa: F403
