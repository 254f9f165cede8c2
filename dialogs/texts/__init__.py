"""Everything the enterprise reads in the chat, one module per conversation:

- chat: consultation (welcome, menu, small talk, caveats, menus, follow-ups), 转人工, outages
- form: the application form (申请帮办/代办): its questions, what it says of a wrong answer, the
  summary and the reply on submission
- service: after applying: progress and 补正, 催办, 一次性告知, 受理 from WeChat
- rating: 好差评

`from dialogs import texts; texts.MENU` reaches the names of chat, form and service (they are
distinct: tests/test_texts.py); rating's share names with chat's (THANKS, CANCELLED), so they are
read as `texts.rating.THANKS`. Texts for staff (console, alerts, pushes) live with their package.
"""
from . import chat, form, rating, service
from .chat import *  # noqa: F403
from .form import *  # noqa: F403
from .service import *  # noqa: F403
