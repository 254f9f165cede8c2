"""A small HTTP client for the /_emulator/ control endpoints (tests, the demo, manual poking)."""
from __future__ import annotations

import requests


class EmulatorControl:
    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._http = requests.Session()
        self.timeout = timeout

    def _post(self, path: str, payload: dict | None = None):
        res = self._http.post(f"{self.base_url}/_emulator/{path}", json=payload or {},
                              timeout=self.timeout)
        res.raise_for_status()
        return res.json()

    def _get(self, path: str, params: dict | None = None):
        res = self._http.get(f"{self.base_url}/_emulator/{path}", params=params, timeout=self.timeout)
        res.raise_for_status()
        return res.json()

    @classmethod
    def find(cls, base_url: str, timeout: float = 1.0) -> "EmulatorControl | None":
        """A control for base_url if an emulator answers there, else None (nothing there, or a
        real WeChat API: call this only for addresses that are not api.weixin.qq.com)."""
        control = cls(base_url, timeout=timeout)
        try:
            control.stats()
        except (requests.RequestException, ValueError):
            return None
        return control

    def reset(self):
        return self._post("reset")

    def register_app(self, appid: str, secret: str):
        return self._post("apps", {"appid": appid, "secret": secret})

    def add_user(self, openid: str, following: bool = True):
        return self._post("users", {"openid": openid, "following": following})

    def interact(self, openid: str, at: float | None = None):
        return self._post("interactions", {"openid": openid, "at": at})

    def add_template(self, template_id: str, fields: list[str]):
        return self._post("templates", {"template_id": template_id, "fields": fields})

    def add_subscribe_template(self, template_id: str, fields):
        return self._post("subscribe_templates", {"template_id": template_id, "fields": fields})

    def accept_subscription(self, openid: str, template_id: str, count: int = 1,
                            long_term: bool = False):
        return self._post("subscriptions", {"openid": openid, "template_id": template_id,
                                            "count": count, "long_term": long_term})

    def set_quotas(self, template_daily: int | None = None,
                   per_template: dict[str, int] | None = None):
        return self._post("quotas", {"template_daily": template_daily,
                                     "per_template": per_template})

    def inject_fault(self, path: str, kind: str, count: int = 1, delay_seconds: float = 0.0,
                     errcode: int | None = None):
        return self._post("faults", {"path": path, "kind": kind, "count": count,
                                     "delay_seconds": delay_seconds, "errcode": errcode})

    def pending_faults(self) -> list[dict]:
        return self._get("faults")

    def messages(self, openid: str | None = None, after: int | None = None) -> list[dict]:
        """Messages the emulator accepted, oldest first (one user's; only those after a msgid)."""
        params = {k: v for k, v in (("openid", openid), ("after", after)) if v is not None}
        return self._get("messages", params)

    def advance_clock(self, seconds: float) -> float:
        return self._post("clock/advance", {"seconds": seconds})["now"]

    def now(self) -> float:
        return self._get("clock")["now"]

    def revoke_tokens(self) -> int:
        return self._post("tokens/revoke")["revoked"]

    def stats(self) -> dict:
        return self._get("stats")

    def scan(self, ticket: str, openid: str) -> dict:
        """A WeChat user scans the code of `ticket`: the event WeChat then pushes (bot/emulator/menu_qr.py)."""
        return self._post("scan", {"ticket": ticket, "openid": openid})
