"""The portal's pure access rules: session expiry, throttling, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bihuan.core.websecurity import (
    SessionRules,
    ThrottleRules,
    alive_cutoffs,
    csrf_for,
    locked_until,
    needs_touch,
    same_secret,
    secret_hash,
    session_problem,
    throttle_until,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
RULES = SessionRules(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
THROTTLE = ThrottleRules(
    per_account=5, per_address=20, window=timedelta(minutes=15), lockout=timedelta(minutes=15)
)


@pytest.mark.parametrize(
    ("last_seen", "now", "revoked", "expected"),
    [
        (T0, T0 + timedelta(minutes=29), None, None),
        (T0, T0 + timedelta(minutes=30), None, "idle"),
        (T0 + timedelta(hours=11, minutes=50), T0 + timedelta(hours=11, minutes=59), None, None),
        (T0 + timedelta(hours=11, minutes=50), T0 + timedelta(hours=12), None, "expired"),
        (T0, T0 + timedelta(minutes=1), T0, "revoked"),
    ],
)
def test_session_problem(
    last_seen: datetime, now: datetime, revoked: datetime | None, expected: str | None
) -> None:
    assert (
        session_problem(
            created_at=T0, last_seen_at=last_seen, revoked_at=revoked, now=now, rules=RULES
        )
        == expected
    )


def test_touch_at_most_once_a_minute_and_alive_cutoffs() -> None:
    assert not needs_touch(T0, T0 + timedelta(seconds=59), RULES)
    assert needs_touch(T0, T0 + timedelta(seconds=60), RULES)
    assert alive_cutoffs(T0, RULES) == (T0 - timedelta(hours=12), T0 - timedelta(minutes=30))


def _minutes(*ms: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in ms]


@pytest.mark.parametrize(
    ("failures", "now_min", "locked_until_min"),
    [
        ([0, 1, 2, 3], 4, None),  # four failures: not yet
        ([0, 1, 2, 3, 4], 5, 19),  # the fifth within 15 minutes locks for 15 after it
        ([0, 1, 2, 3, 4], 19.5, None),  # the lock is over
        ([0, 5, 10, 15, 20], 21, None),  # spread over 20 minutes: never five in one window
        ([0, 4, 8, 12, 15], 16, 30),  # exactly the window's length counts
        ([0, 1, 2, 3, 4, 10], 11, 25),  # a later failure inside a lock extends it
    ],
)
def test_locked_until(
    failures: list[float], now_min: float, locked_until_min: float | None
) -> None:
    until = locked_until(
        _minutes(*failures),
        limit=5,
        window=timedelta(minutes=15),
        lockout=timedelta(minutes=15),
        now=T0 + timedelta(minutes=now_min),
    )
    assert until == (None if locked_until_min is None else _minutes(locked_until_min)[0])


def test_throttle_takes_the_later_of_account_and_address() -> None:
    address = _minutes(*[i * 0.5 for i in range(20)])  # 20 in 10 minutes
    account = _minutes(0, 1, 2, 3, 4)
    until = throttle_until(account, address, rules=THROTTLE, now=T0 + timedelta(minutes=11))
    assert until == T0 + timedelta(minutes=9.5 + 15)
    assert throttle_until([], [], rules=THROTTLE, now=T0) is None
    assert THROTTLE.lookback == timedelta(minutes=30)


@given(st.lists(st.integers(min_value=0, max_value=120), max_size=12), st.integers(0, 200))
def test_locked_only_after_limit_failures_and_never_past_lockout(
    minutes: list[int], now_min: int
) -> None:
    failures = _minutes(*minutes)
    now = T0 + timedelta(minutes=now_min)
    until = locked_until(
        failures, limit=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15), now=now
    )
    if len(failures) < 5:
        assert until is None
    if until is not None:
        assert now < until <= max(failures) + timedelta(minutes=15)


def test_secrets() -> None:
    assert len(secret_hash("x")) == 64 and secret_hash("x") != secret_hash("y")
    assert csrf_for("a") != csrf_for("b") and csrf_for("a") == csrf_for("a")
    assert csrf_for("a") != secret_hash("a")  # the stored hash does not give the CSRF token
    assert same_secret("abc", "abc") and not same_secret("", "") and not same_secret("ab", "abc")
