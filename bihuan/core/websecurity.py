"""The portal's access rules as pure functions: session expiry, sign-in throttling, token hashes.

Nothing here reads a clock or the database: `now` and the stored timestamps are passed in, so
the rules are tested without either (tests/unit/test_websecurity.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SessionRules:
    """How long a portal session lives (settings: session_idle_minutes, session_absolute_hours)."""

    idle: timedelta
    absolute: timedelta
    # last_seen_at is written at most this often: a page view is then a read, not a write
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class ThrottleRules:
    """Sign-in throttling (settings: login_failures_per_account / _per_address, the window
    and the lockout)."""

    per_account: int
    per_address: int
    window: timedelta
    lockout: timedelta

    @property
    def lookback(self) -> timedelta:
        """How far back failures can still matter: a lock starts at most a window after the
        first failure that counts and lasts `lockout` after the last."""
        return self.window + self.lockout


def session_problem(
    *,
    created_at: datetime,
    last_seen_at: datetime,
    revoked_at: datetime | None,
    now: datetime,
    rules: SessionRules,
) -> str | None:
    """None while the session is valid; otherwise why not: revoked, idle or expired."""
    if revoked_at is not None:
        return "revoked"
    if now >= created_at + rules.absolute:
        return "expired"
    if now >= last_seen_at + rules.idle:
        return "idle"
    return None


def needs_touch(last_seen_at: datetime, now: datetime, rules: SessionRules) -> bool:
    return now - last_seen_at >= rules.touch_every


def alive_cutoffs(now: datetime, rules: SessionRules) -> tuple[datetime, datetime]:
    """(created after, last seen after): a session is alive when unrevoked and past both."""
    return now - rules.absolute, now - rules.idle


def locked_until(
    failures: Iterable[datetime],
    *,
    limit: int,
    window: timedelta,
    lockout: timedelta,
    now: datetime,
) -> datetime | None:
    """When `limit` failures fall within one `window`, attempts are locked until `lockout`
    after the last of them. Returns the end of the lock still running at `now`, else None."""
    times = sorted(failures)
    until: datetime | None = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= window:
            end = times[i] + lockout
            if until is None or end > until:
                until = end
    return until if until is not None and until > now else None


def throttle_until(
    account_failures: Iterable[datetime],
    address_failures: Iterable[datetime],
    *,
    rules: ThrottleRules,
    now: datetime,
) -> datetime | None:
    """The later of the account's and the address's locks, or None when neither is locked."""
    ends = [
        locked_until(
            account_failures,
            limit=rules.per_account,
            window=rules.window,
            lockout=rules.lockout,
            now=now,
        ),
        locked_until(
            address_failures,
            limit=rules.per_address,
            window=rules.window,
            lockout=rules.lockout,
            now=now,
        ),
    ]
    found = [e for e in ends if e is not None]
    return max(found) if found else None


def secret_hash(secret: str) -> str:
    """What is stored of a session cookie or an API token: its SHA-256 (both are 256-bit
    random strings, so a fast hash suffices; a stolen table gives no usable credential)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_for(session_secret: str) -> str:
    """The synchronizer token of a session, derived from the cookie's secret (never stored):
    a form must carry it, and another site can neither read nor compute it."""
    return hmac.new(session_secret.encode("utf-8"), b"bihuan-csrf", hashlib.sha256).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
