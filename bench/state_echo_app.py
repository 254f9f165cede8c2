"""Second baseline for bench/webhook_load.py: the echo endpoint (echo_app.py) plus the conversation
state every message of the real app must read and write — the user's lock and state taken in one
Redis round trip, state and remembered reply saved as the lock is let go in another, through the
app's own ConversationStore. No understanding, no knowledge base, no database.

Any design that lets several workers and hosts share a conversation pays this much; the gap from
echo to here is the price of shared state, the gap from here to the full pipeline is everything
the bot does with a message.
"""
from __future__ import annotations

import os

from echo_app import incoming, reply
from flask import Flask

from bot.platform.kv import RedisKV
from dialogs.state import ConversationStore, earlier_reply, remember_reply

store = ConversationStore(RedisKV.from_url(os.environ["REDIS_URL"]), ttl_s=3600)
app = Flask(__name__)


@app.post("/wechat")
def echo_with_state():
    message = incoming()
    message_id = str(getattr(message, "id", None) or getattr(message, "create_time", ""))
    with store.session(message.source) as state:
        text = earlier_reply(state, message_id)
        if text is None:
            text = getattr(message, "content", None) or "success"
            state["turns"] = state.get("turns", 0) + 1
            remember_reply(state, message_id, text)
    return reply(text, message)
