"""access_token issuing and checking, for /cgi-bin/token and /cgi-bin/stable_token.

Rules emulated (WeChat docs):
- a token lives 7200 s; using it afterwards gives 42001;
- every /cgi-bin/token call issues a NEW token; the previous one keeps working for 5 minutes,
  then gives 40001 (this is why uncoordinated workers refreshing at once break each other);
- stable_token is isolated from /cgi-bin/token. Normal mode returns the current token while it
  has more than 5 minutes left (with its remaining expires_in) and renews it after that;
  force_refresh revokes the previous stable token at once, at most 20 times a day and 30 s apart.
Not thread-safe by itself: EmulatorState serialises access.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot.emulator import errors
from bot.emulator.clock import beijing_day

TOKEN_TTL_SECONDS = 7200
SUPERSEDED_GRACE_SECONDS = 300
STABLE_RENEW_BEFORE_SECONDS = 300
FORCE_REFRESH_PER_DAY = 20
FORCE_REFRESH_MIN_INTERVAL_SECONDS = 30


@dataclass
class IssuedToken:
    value: str
    appid: str
    kind: str  # "token" or "stable"
    issued_at: float
    expires_at: float
    revoked_at: float | None = None  # from this instant on the token answers 40001

    def superseded(self, now: float) -> None:
        """A newer token was issued: keep this one for the grace period only."""
        cutoff = now + SUPERSEDED_GRACE_SECONDS
        if self.revoked_at is None or self.revoked_at > cutoff:
            self.revoked_at = cutoff

    def revoke(self, now: float) -> None:
        self.revoked_at = now if self.revoked_at is None else min(self.revoked_at, now)


class TokenAuthority:
    def __init__(self):
        self.apps: dict[str, str] = {}  # appid -> secret
        self._tokens: dict[str, IssuedToken] = {}
        self._current: dict[tuple[str, str], IssuedToken] = {}  # (appid, kind) -> newest
        self._force_refreshes: dict[str, list[float]] = {}  # appid -> force refresh times
        # Requests that reached the token handlers, failed ones included (an injected busy/500
        # answer never reaches them). Tests use it to prove workers share one token.
        self.token_fetches = 0
        self.stable_token_fetches = 0

    # -- credentials -------------------------------------------------------------------------
    def _check_credentials(self, grant_type, appid, secret) -> None:
        if not appid:
            raise errors.ApiError(errors.APPID_MISSING)
        if not secret:
            raise errors.ApiError(errors.APPSECRET_MISSING)
        if grant_type != "client_credential":
            raise errors.ApiError(errors.INVALID_GRANT_TYPE)
        if appid not in self.apps:
            raise errors.ApiError(errors.INVALID_APPID)
        if self.apps[appid] != secret:
            raise errors.ApiError(errors.INVALID_APPSECRET)

    def _issue(self, appid: str, kind: str, now: float) -> IssuedToken:
        token = IssuedToken(
            value=f"emu_{kind}_{secrets.token_urlsafe(24)}",
            appid=appid,
            kind=kind,
            issued_at=now,
            expires_at=now + TOKEN_TTL_SECONDS,
        )
        self._tokens[token.value] = token
        self._current[(appid, kind)] = token
        return token

    # -- /cgi-bin/token ----------------------------------------------------------------------
    def fetch_token(self, grant_type, appid, secret, now: float) -> dict:
        self.token_fetches += 1
        self._check_credentials(grant_type, appid, secret)
        previous = self._current.get((appid, "token"))
        if previous is not None:
            previous.superseded(now)
        token = self._issue(appid, "token", now)
        return {"access_token": token.value, "expires_in": TOKEN_TTL_SECONDS}

    # -- /cgi-bin/stable_token ---------------------------------------------------------------
    def fetch_stable_token(self, grant_type, appid, secret, force_refresh: bool, now: float) -> dict:
        self.stable_token_fetches += 1
        self._check_credentials(grant_type, appid, secret)
        current = self._current.get((appid, "stable"))
        if force_refresh:
            self._admit_force_refresh(appid, now)
            if current is not None:
                current.revoke(now)
        elif current is not None and self._usable(current, now):
            remaining = current.expires_at - now
            if remaining > STABLE_RENEW_BEFORE_SECONDS:
                return {"access_token": current.value, "expires_in": int(remaining)}
            # Renewed ahead of expiry; the old token simply runs out its own lifetime.
        token = self._issue(appid, "stable", now)
        return {"access_token": token.value, "expires_in": TOKEN_TTL_SECONDS}

    def _admit_force_refresh(self, appid: str, now: float) -> None:
        today = beijing_day(now)
        history = [t for t in self._force_refreshes.get(appid, []) if beijing_day(t) == today]
        if history and now - history[-1] < FORCE_REFRESH_MIN_INTERVAL_SECONDS:
            raise errors.ApiError(errors.MINUTE_QUOTA, "(force_refresh needs 30 s between calls)")
        if len(history) >= FORCE_REFRESH_PER_DAY:
            raise errors.ApiError(errors.MINUTE_QUOTA, "(force_refresh is limited to 20 a day)")
        history.append(now)
        self._force_refreshes[appid] = history

    # -- using a token -----------------------------------------------------------------------
    @staticmethod
    def _usable(token: IssuedToken, now: float) -> bool:
        return now < token.expires_at and (token.revoked_at is None or now < token.revoked_at)

    def authenticate(self, value: str | None, now: float) -> IssuedToken:
        """The token an API call presents, or the ApiError WeChat would answer with."""
        if not value:
            raise errors.ApiError(errors.ACCESS_TOKEN_MISSING)
        token = self._tokens.get(value)
        if token is None:
            raise errors.ApiError(errors.INVALID_CREDENTIAL)
        if now >= token.expires_at:
            raise errors.ApiError(errors.ACCESS_TOKEN_EXPIRED)
        if token.revoked_at is not None and now >= token.revoked_at:
            raise errors.ApiError(errors.INVALID_CREDENTIAL)
        return token

    def revoke_all(self, now: float) -> int:
        """Test control: every token issued so far answers 40001 from now on."""
        live = [t for t in self._tokens.values() if self._usable(t, now)]
        for token in live:
            token.revoke(now)
        return len(live)
