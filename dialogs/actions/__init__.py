"""rasa-sdk actions and forms. In process, dialogs/manager.py runs them; for a full Rasa server:
`python -m rasa_sdk --actions dialogs.actions` (port 5055) serves the same classes."""
from .application import ActionSubmitApplication, ValidateApplicationForm
from .rating import ActionRating
from .service import (
           ActionAcceptCase,
           ActionCaseProgress,
           ActionOneTimeNotice,
           ActionUrge,
)

__all__ = ["ActionSubmitApplication", "ValidateApplicationForm", "ActionCaseProgress", "ActionOneTimeNotice",
           "ActionUrge", "ActionAcceptCase", "ActionRating"]
