"""The outbox's pure rules (bihuan/core/outbox.py): the run's clock, notice numbers and
Message-IDs, the circuit breaker, the patience of outcome writes; and the one-way URL key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bihuan.core.outbox import (
    CircuitBreaker,
    WritePatience,
    dispatch_clock,
    is_future,
    message_id,
    notice_number,
    run_clock,
    start_of,
    with_notice,
)
from flows.local_server import watched
from notifications.channels import target_key

# 2026-12-03 10:00 in Asia/Shanghai
REAL = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 10, 12), start_of(date(2026, 10, 12))),  # a simulated past day: its start
        (TODAY, REAL),  # today: the real clock
        (date(2026, 12, 4), REAL),  # tomorrow: clamped to now, never tomorrow's start
        (date(2027, 1, 1), REAL),
    ],
)
def test_dispatch_clock_never_runs_ahead_of_the_real_clock(as_of: date, expected: datetime) -> None:
    assert dispatch_clock(as_of, REAL) == expected
    assert is_future(as_of, REAL) == (as_of > TODAY)


def test_run_clock_moves_with_the_real_time_elapsed() -> None:
    ticks = iter([100.0, 100.0, 160.5, 1000.0])
    clock = run_clock(date(2026, 10, 12), lambda: REAL, lambda: next(ticks))
    assert clock() == start_of(date(2026, 10, 12))
    assert clock() == start_of(date(2026, 10, 12)) + timedelta(seconds=60.5)
    assert clock() == start_of(date(2026, 10, 12)) + timedelta(seconds=900)
    reals = iter([REAL, REAL + timedelta(minutes=16)])
    today = run_clock(TODAY, lambda: next(reals), lambda: 0.0)
    assert today() == REAL + timedelta(minutes=16)  # the real clock, read at every call
    future = run_clock(date(2026, 12, 4), lambda: REAL, lambda: 0.0)
    assert future() == REAL


def test_notice_numbers_and_message_ids_are_stable_per_row() -> None:
    assert notice_number(42) == "N-42"
    body = with_notice("请于今日报送整改完成情况。\n县委编办\n", 42)
    assert body.startswith("请于今日报送整改完成情况。\n县委编办\n\n通知编号 N-42")
    assert with_notice("x", 42) == with_notice("x", 42)
    assert message_id("juxian", 42, "juxian.gov.cn") == "<bihuan-juxian-42@juxian.gov.cn>"
    assert message_id("莒 县", 7, "") == "<bihuan-x-7@localhost>"  # always a valid msg-id


def test_the_breaker_opens_after_consecutive_connection_failures_only() -> None:
    breaker = CircuitBreaker(3)
    for failed in (True, True, False, True, True):
        breaker.record("smtp a:25", connection_failed=failed)
    assert breaker.allows("smtp a:25") and breaker.opened == []
    breaker.record("smtp a:25", connection_failed=True)
    assert not breaker.allows("smtp a:25") and breaker.opened == ["smtp a:25"]
    assert breaker.allows("WeCom Bot qyapi.weixin.qq.com")  # per channel


def test_write_patience_is_bounded() -> None:
    assert WritePatience(waits=(1, 2, 5), total=20).schedule() == [1, 2, 5, 5, 5]
    assert WritePatience(total=0).schedule() == []
    assert sum(WritePatience().schedule()) <= 300


def test_target_key_is_one_way_and_ignores_the_password() -> None:
    a = target_key("mailto://bihuan:secret1@smtp.example.org:587/d01@example.org?from=x")
    b = target_key("mailto://bihuan:other2@smtp.example.org:587/d01@example.org?from=x")
    c = target_key("mailto://bihuan:secret1@smtp.example.org:587/d02@example.org?from=x")
    assert a == b != c and len(a) == 32
    assert "secret1" not in a and "smtp" not in a


def test_the_temporary_prefect_server_is_started_through_the_watchdog() -> None:
    args = ["/venv/bin/python", "-m", "uvicorn", "--port", "8001"]
    wrapped = watched(args)
    assert wrapped[:2] == ["/venv/bin/python", "-c"] and wrapped[-2:] == ["--port", "8001"]
    assert "getppid" in wrapped[2] and "uvicorn" in wrapped[2]
    assert watched(["git", "status"]) == ["git", "status"]
