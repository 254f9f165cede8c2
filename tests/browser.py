"""What the browser tests share: the app served on a free local port, and Debian's Chromium
headless with the flags that keep it quiet and offline."""
from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run"]


def served(app):
    """The app on 127.0.0.1 for as long as the block runs; yields its base URL (the emulator's
    own background server, which serves any WSGI app)."""
    from bot.emulator.server import serve

    return serve(app=app)


def launch(playwright):
    """Headless Chromium from a running sync_playwright()."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
