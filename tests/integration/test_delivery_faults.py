"""The outbox under faults (issue 11.2), on SQLite and PostgreSQL, with real SMTP on loopback and,
where the fault is a process's, real processes: a dispatcher slowed past its lease beside a
second one, an SMTP server that accepts and never answers, `kill -9` of a dispatcher mid-run and
a restart, a dispatcher beside a long write transaction (an import), a partly delivered tag.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import text

from bihuan.core.outbox import Outgoing, SendLimits
from bihuan.db import get_engine
from bihuan.services.notifications import DispatchReport
from models.enums import NotificationStatus
from notifications.channels import Channels, DeliveryResult
from tests.integration.mailserver import MailServer, SilentServer
from tests.integration.test_outbox import (
    DAY,
    NINE,
    FakeSender,
    Org,
    _attempts,
    _enqueue,
    _rows,
    dispatch,
    org,
)

__all__ = ["org"]  # the fixture, shared with test_outbox

REPO = Path(__file__).resolve().parents[2]
BIHUAN = Path(sys.executable).parent / "bihuan"
pytestmark = pytest.mark.reliability


class ControlledClock:
    """A clock the test moves: what the dispatcher reads at every claim and outcome."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


def _config(path: Path, *entries: tuple[str, str]) -> Path:
    lines = ["version: 1", "urls:"]
    for url, tag in entries:
        lines += [f'  - "{url}":', f"    - tag: {tag}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(BIHUAN_CLI_REQUIRE_PASSWORD="false", PYTHONPATH=str(REPO), **extra)
    return env


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _report(proc: subprocess.Popen[str], timeout: float = 120) -> DispatchReport:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-2000:]
    return DispatchReport.model_validate(json.loads(out.strip().splitlines()[-1]))


def _dispatcher(org: Org, config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.dispatcher_proc", org.url, str(config),
         org.office.login, *args],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _exactly_once(mail: MailServer, n: int) -> None:
    by_subject = Counter(r.subject for r in mail.received)
    assert len(by_subject) == n, sorted(by_subject)
    assert max(by_subject.values()) == 1, [s for s, c in by_subject.items() if c > 1]


# ------------------------------------------------------------------ the lease on a moving clock


@pytest.mark.parametrize("second_starts_at", [14, 16])
def test_a_dispatcher_slowed_past_its_lease_beside_a_second_one_sends_nothing_twice(
    org: Org, second_starts_at: int
) -> None:
    """Every send takes a minute (a rate-limited bot); a second dispatcher starts 14 or 16
    minutes into the run, past the 15-minute lease of a run that leased from its start."""
    _enqueue(org, 30)
    clock = ControlledClock(NINE)
    second = FakeSender()
    second_reports: list[DispatchReport] = []

    class Slow(FakeSender):
        def deliver(self, message: Outgoing) -> DeliveryResult:
            result = super().deliver(message)
            clock.advance(timedelta(minutes=1))
            if clock() == NINE + timedelta(minutes=second_starts_at) and not second_reports:
                second_reports.append(dispatch(org, second, clock))
            return result

    first = Slow()
    report = dispatch(org, first, clock)
    [other] = second_reports
    sent = Counter(subject for _, subject in first.sent + second.sent)
    assert len(sent) == 30 and max(sent.values()) == 1
    assert other.claimed > 0  # the second really ran beside the first
    assert report.claimed + other.claimed == 30 and report.sent + other.sent == 30
    assert report.lost_race == other.claimed
    rows = _rows(org.url)
    assert all(r.status == NotificationStatus.SENT and r.attempts == 1 for r in rows)
    # sent_at is each row's real send time (the first's rows a minute apart), not the run start
    first_ids = {m.notification_id for m in first.messages}
    first_sent = sorted(r.sent_at for r in rows if r.id in first_ids)
    assert first_sent == [NINE + timedelta(minutes=k + 1) for k in range(report.claimed)]


def test_backoff_of_a_failure_runs_from_the_real_time_of_the_failure(org: Org) -> None:
    _enqueue(org, 5)
    clock = ControlledClock(NINE)

    class Failing(FakeSender):
        def deliver(self, message: Outgoing) -> DeliveryResult:
            clock.advance(timedelta(minutes=1))
            return DeliveryResult(False, "rate limited")

    report = dispatch(org, Failing(), clock, backoff_minutes=[1])
    assert (report.claimed, report.retrying) == (5, 5)
    due = sorted(r.next_attempt_at for r in _rows(org.url))
    # failed at +1 .. +5 minutes: due again a minute after each failure, not at run start + 1
    assert due == [NINE + timedelta(minutes=k + 2) for k in range(5)]
    assert sorted(a.at for a in _attempts(org.url)) == [
        NINE + timedelta(minutes=k + 1) for k in range(5)
    ]


def test_slow_smtp_two_dispatcher_processes_lease_each_row_from_its_claim(
    org: Org, tmp_path: Path
) -> None:
    """Real processes and the real clock: a 2 s lease, sends of 0.15 s, a run of 4-5 s, and a
    second dispatcher started after the first's lease would have ended had it run from the
    start of the run."""
    server = MailServer(delay=0.15)
    server.start()
    try:
        config = _config(tmp_path / "mail.yml", (server.url("d01@example.org"), "d01"))
        _enqueue(org, 40)
        first = _dispatcher(org, config, "--lease-seconds", "2")
        _wait_for(lambda: len(server.received) >= 3, 60, "the first dispatcher's sends")
        time.sleep(2.2)  # past run start + lease
        second = _dispatcher(org, config, "--lease-seconds", "2")
        a, b = _report(first), _report(second)
    finally:
        server.stop()
    _exactly_once(server, 40)
    assert a.claimed + b.claimed == 40 and a.sent + b.sent == 40
    assert len({r.message_id for r in server.received}) == 40
    rows = _rows(org.url)
    assert all(r.status == NotificationStatus.SENT and r.attempts == 1 for r in rows)
    assert len({r.sent_at for r in rows}) == 40  # each row's own send time


# ------------------------------------------------------------------ a server that never answers


def test_smtp_server_that_accepts_and_never_answers(org: Org, tmp_path: Path) -> None:
    silent = SilentServer()
    port = silent.port
    url = MailServer(port=port).url("d01@example.org")
    _enqueue(org, 12)
    limits = SendLimits(connect_timeout=1, read_timeout=1, breaker_failures=3)
    started = time.monotonic()
    try:
        report = dispatch(org, Channels(_config_text(url), rate_limit=0), NINE, limits=limits)
    finally:
        silent.stop()
    elapsed = time.monotonic() - started
    # three timeouts of at most connect + read each, then the channel is closed for the run
    assert elapsed < 3 * (1 + 1) + 3, elapsed
    assert (report.claimed, report.retrying, report.deferred, report.sent) == (12, 3, 9, 0)
    assert report.closed_channels == [f"smtp 127.0.0.1:{port}"]
    assert report.claimed == report.sent + report.retrying + report.deferred
    assert all("timed out" in p.error for p in report.problems)
    rows = _rows(org.url)
    assert all(r.status == NotificationStatus.PENDING for r in rows)  # nothing lost
    assert sorted(r.attempts for r in rows) == [0] * 9 + [1] * 3  # deferred rows kept their tries

    mail = MailServer(port=port)  # the server recovers, same address
    mail.start()
    try:
        again = dispatch(
            org, Channels(_config_text(url), rate_limit=0), NINE + timedelta(minutes=5)
        )
    finally:
        mail.stop()
    assert again.sent == 12
    _exactly_once(mail, 12)


def _config_text(url: str, tag: str = "d01") -> str:
    return f'urls:\n  - "{url}":\n    - tag: {tag}\n'


# ------------------------------------------------------------------ kill -9 and a restart


def _cli_dispatch(org: Org, config: Path, day: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIHUAN), "dispatch", "--as-of", day, "--db", org.url, "--as", org.office.login,
         "--json"],
        cwd=REPO, env=_env(BIHUAN_APPRISE_CONFIG=str(config)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    _gone, alive = psutil.wait_procs(processes, timeout=10)
    return alive


def test_kill_9_of_a_dispatcher_mid_run_then_a_restart(org: Org, tmp_path: Path) -> None:
    server = MailServer(delay=0.2)
    server.start()
    try:
        config = _config(tmp_path / "mail.yml", (server.url("d01@example.org"), "d01"))
        _enqueue(org, 12)
        proc = _cli_dispatch(org, config, DAY.isoformat())
        _wait_for(lambda: len(server.received) >= 4, 90, "the dispatcher's first sends")
        children = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert children == []  # `bihuan dispatch` starts no temporary Prefect server
        time.sleep(0.5)  # a message in the server's hands when the client died lands now
        killed_at = len(server.received)
        restart = _cli_dispatch(org, config, (DAY + timedelta(days=1)).isoformat())
        out, err = restart.communicate(timeout=120)
        assert restart.returncode == 0, err
    finally:
        server.stop()
    assert 4 <= killed_at < 12
    by_subject = Counter(r.subject for r in server.received)
    assert len(by_subject) == 12  # every message delivered
    repeated = [s for s, c in by_subject.items() if c > 1]
    assert len(repeated) <= 1 and max(by_subject.values()) <= 2  # at most the one in flight
    for subject in repeated:
        copies = [r for r in server.received if r.subject == subject]
        assert len({c.message_id for c in copies}) == 1  # the same Message-ID ...
        assert len({c.notice for c in copies}) == 1  # ... and the same notice number
        assert all(f"通知编号 {copies[0].notice}" in c.text for c in copies)
    rows = _rows(org.url)
    assert all(r.status == NotificationStatus.SENT for r in rows)
    assert json.loads(out)["claimed"] == 12 - killed_at + len(repeated)


def test_kill_9_of_a_flow_run_leaves_no_temporary_prefect_server(org: Org, tmp_path: Path) -> None:
    """The Prefect flow in local mode starts a temporary server (uvicorn); killed with -9, the
    run's process leaves it running unless it dies with its parent (flows/local_server.py)."""
    server = MailServer(delay=0.3)
    server.start()
    config = _config(tmp_path / "mail.yml", (server.url("d01@example.org"), "d01"))
    _enqueue(org, 40)
    code = (
        "from datetime import date\n"
        "from bihuan.runtime import configure_offline_prefect, no_flow_heartbeat\n"
        "configure_offline_prefect()\n"
        "from flows.local_server import server_dies_with_parent\n"
        "server_dies_with_parent()\n"
        "from flows.dispatch import dispatch_notifications\n"
        "with no_flow_heartbeat():\n"
        f"    dispatch_notifications(jurisdiction='juxian', run_as={org.office.login!r},"
        f" as_of=date.fromisoformat({DAY.isoformat()!r}))\n"
    )
    env = _env(
        BIHUAN_DATABASE_URL=org.url,
        BIHUAN_APPRISE_CONFIG=str(config),
        PREFECT_HOME=str(tmp_path / "prefect"),
    )
    log = (tmp_path / "flow.log").open("w")
    # output to a file: an orphan holding the pipes would keep a reader waiting for their end
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    children: list[psutil.Process] = []
    try:
        _wait_for(lambda: len(server.received) >= 2, 180, "the flow's first sends")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("uvicorn" in " ".join(c.cmdline()) for c in children), children
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _alive(children) == [], "the temporary Prefect server outlived its parent"
    finally:
        server.stop()
        log.close()
        for child in children:
            if child.is_running():
                child.kill()


# ------------------------------------------------------------------ a busy database


class WriteLock:
    """A process that holds a write transaction for `seconds` when told to, as a long import
    does (started ahead, so taking the lock does not wait for its imports)."""

    CODE = (
        "import sys, time\n"
        "from sqlalchemy import text\n"
        "from bihuan.db import get_engine\n"
        "engine = get_engine(sys.argv[1])\n"
        "with engine.connect():\n"
        "    pass\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "with engine.begin() as conn:\n"
        "    if conn.dialect.name == 'postgresql':\n"
        "        conn.execute(text('LOCK TABLE notification IN ACCESS EXCLUSIVE MODE'))\n"
        "    conn.execute(text(\"UPDATE jurisdiction SET name = name || ''\"))\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(float(sys.argv[2]))\n"
    )

    def __init__(self, url: str, seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, url, str(seconds)], cwd=REPO, env=_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def take(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "locked"

    def finish(self) -> None:
        _out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err


def test_a_dispatcher_beside_a_long_write_transaction_sends_each_once(
    org: Org, tmp_path: Path
) -> None:
    server = MailServer(delay=0.1)
    server.start()
    try:
        config = _config(tmp_path / "mail.yml", (server.url("d01@example.org"), "d01"))
        _enqueue(org, 30)
        lock = WriteLock(org.url, 3)
        # SQLite: a statement waits 0.5 s for the write lock, the lock is held 3 s
        proc = _dispatcher(org, config, "--busy-ms", "500")
        _wait_for(lambda: len(server.received) >= 5, 60, "the dispatcher's first sends")
        lock.take()
        during = len(server.received)
        report = _report(proc)
        lock.finish()
    finally:
        server.stop()
    assert during < 30  # the lock was taken while the dispatcher was running
    _exactly_once(server, 30)
    assert (report.claimed, report.sent, report.unrecorded, report.stopped) == (30, 30, 0, "")
    if org.url.startswith("sqlite"):
        assert report.write_retries >= 1  # the outcome's write was retried, never the send
    rows = _rows(org.url)
    assert all(r.status == NotificationStatus.SENT and r.attempts == 1 for r in rows)
    assert len(_attempts(org.url)) == 30


def test_an_outcome_that_cannot_be_written_stops_the_run_and_is_counted(
    sqlite_db: str, tmp_path: Path
) -> None:
    """The lock outlasts the dispatcher's patience: the run stops after the send whose outcome
    it could not write, counts it, and the row is sent again after its lease (same notice)."""
    from tests.integration.test_outbox import _jurisdiction
    from tests.users import office

    jid, did = _jurisdiction(sqlite_db, "juxian", "d01")
    org_ = Org(sqlite_db, jid, did, office(sqlite_db))
    server = MailServer(delay=0.1)
    server.start()
    try:
        config = _config(tmp_path / "mail.yml", (server.url("d01@example.org"), "d01"))
        _enqueue(org_, 20)
        lock = WriteLock(sqlite_db, 4)
        proc = _dispatcher(
            org_, config, "--busy-ms", "300", "--patience", "1", "--lease-seconds", "4"
        )
        _wait_for(lambda: len(server.received) >= 5, 60, "the dispatcher's first sends")
        lock.take()
        first = _report(proc)
        lock.finish()
        assert first.stopped and "busy" in first.stopped
        assert first.unrecorded == 1
        assert first.claimed == first.sent + first.retrying + first.failed + first.dead
        assert first.sent == len(server.received)  # every accepted message is counted
        time.sleep(4.5)  # the unrecorded row's lease runs out
        second = _report(_dispatcher(org_, config, "--lease-seconds", "4"))
    finally:
        server.stop()
    by_subject = Counter(r.subject for r in server.received)
    assert len(by_subject) == 20
    assert sorted(by_subject.values()).count(2) == 1  # the unrecorded one, once more
    [subject] = [s for s, c in by_subject.items() if c == 2]
    assert len({r.message_id for r in server.received if r.subject == subject}) == 1
    assert second.sent == 20 - first.sent + 1
    assert all(r.status == NotificationStatus.SENT for r in _rows(sqlite_db))


# ------------------------------------------------------------------ several URLs for one tag


def test_a_retry_sends_only_to_the_urls_that_did_not_receive_it(org: Org) -> None:
    up, down = MailServer(), MailServer()
    up.start()
    config = (
        "urls:\n"
        f'  - "{up.url("a@example.org")}":\n    - tag: d01\n'
        f'  - "{down.url("b@example.org")}":\n    - tag: d01\n'
    )
    try:
        _enqueue(org, 1)
        first = dispatch(org, Channels(config, rate_limit=0), NINE)
        assert (first.sent, first.retrying) == (0, 1)
        assert "some URLs failed" in first.problems[0].error
        down.start()
        second = dispatch(org, Channels(config, rate_limit=0), NINE + timedelta(minutes=5))
    finally:
        up.stop()
        down.stop()
    assert second.sent == 1
    assert [r.rcpt_tos for r in up.received] == [["a@example.org"]]  # not again
    assert [r.rcpt_tos for r in down.received] == [["b@example.org"]]
    with get_engine(org.url).connect() as conn:
        rows = conn.execute(
            text("SELECT target_key, ok, error FROM notificationdelivery ORDER BY id")
        ).all()
    assert sorted(ok for _, ok, _ in rows) == [True, True]  # b's failure, then its delivery
    for key, _ok, error in rows:
        assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
        assert "SMTPPASSWORD42" not in error and "mailto" not in key
    [row] = _rows(org.url)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)


# ------------------------------------------------------------------ notice numbers, Message-ID


def test_the_same_message_sent_twice_carries_the_same_message_id_and_notice(
    mail: MailServer,
) -> None:
    channels = Channels(_config_text(mail.url("d01@example.org")), rate_limit=0)
    message = Outgoing(
        tag="d01",
        subject="【逾期催办】县财政局",
        body="请立即整改。\n\n通知编号 N-7（编号相同的通知为同一通知的重发，请以先收到的为准）",
        notification_id=7,
        jurisdiction="juxian",
    )
    with channels.batch() as run:
        assert run.deliver(message).ok
    assert channels.deliver(message).ok  # a later run: a new connection, the same identity
    first, second = mail.received
    assert first.message_id == second.message_id == "<bihuan-juxian-7@example.org>"
    assert first.notice == second.notice == "N-7"
    assert "通知编号 N-7" in first.text and first.text == second.text
    assert first.message.get_content_type() == "text/plain"
    # the lines kept (apprise's HTML alternative joined them in its text part)
    assert "请立即整改。\n\n通知编号" in first.text.replace("\r\n", "\n")


def test_one_smtp_connection_for_a_whole_run(org: Org, mail: MailServer) -> None:
    for i in range(5):
        _enqueue(org, 1, tag=f"r{i}")
    config = "urls:\n" + "".join(
        f'  - "{mail.url(f"r{i}@example.org")}":\n    - tag: r{i}\n' for i in range(5)
    )
    report = dispatch(org, Channels(config, rate_limit=0), NINE)
    assert report.sent == 5 and len(mail.received) == 5
    assert mail.sessions == 1 and mail.logins == ["bihuan"]  # one conversation, one login
    notices = sorted(r.notice for r in mail.received)
    assert notices == sorted(f"N-{r.id}" for r in _rows(org.url))
    assert all(f"通知编号 {r.notice}" in r.text for r in mail.received)


def test_a_webhook_that_refuses_connections_is_closed_for_the_run(org: Org) -> None:
    from tests.integration.mailserver import free_port

    port = free_port()  # nothing listens there
    _enqueue(org, 5)
    channels = Channels(
        _config_text(f"json://127.0.0.1:{port}/hook?token=HOOKSECRET99"), rate_limit=0
    )
    report = dispatch(org, channels, NINE, limits=SendLimits(breaker_failures=3))
    assert (report.claimed, report.retrying, report.deferred) == (5, 3, 2)
    assert report.closed_channels == [f"JSON 127.0.0.1:{port}"]
    assert all("HOOKSECRET99" not in p.error for p in report.problems)


def test_every_send_has_explicit_timeouts_unless_the_url_sets_its_own(mail: MailServer) -> None:
    channels = Channels(
        "urls:\n"
        '  - "json://127.0.0.1:9/a":\n    - tag: a\n'
        '  - "json://127.0.0.1:9/b?cto=2&rto=3":\n    - tag: b\n'
        f'  - "{mail.url("c@example.org")}":\n    - tag: c\n',
        rate_limit=0,
    )
    with channels.batch(SendLimits(connect_timeout=5, read_timeout=10)) as run:
        a, b, c = (channels.targets_for(t)[0].service for t in "abc")
        assert (a.socket_connect_timeout, a.socket_read_timeout) == (5, 10)
        assert (b.socket_connect_timeout, b.socket_read_timeout) == (2, 3)
        assert (run.mail.connect_timeout, run.mail.read_timeout) == (5, 10)  # mail: our sender
        assert all(s.retry == 0 for s in (a, b, c))  # apprise never retries by itself
