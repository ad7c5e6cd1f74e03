"""track-rectifications and dispatch-notifications on the small county, day by day in 2022.

Items come from production code: the small county is imported, assessed (annual-cycle) and its
problem lists issued and approved on 2022-09-28. That gives four items: B01's (high severity) due
2022-10-17 across National Day, and three medium ones (A01, A02 x2) due 2022-10-31.
The reminder ladder is config/policy.toml's: pre 5/2/1, due day, overdue every 1, 2, 4, 8
working days, escalation at 0/3/6/10 working days overdue.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bihuan.db import get_engine
from bihuan.ingest.load import import_path
from bihuan.migrate import upgrade
from bihuan.services import identity, tracking
from bihuan.services.tracking import NoticeRow, TrackSummary
from bihuan.services.uow import UnitOfWork
from bihuan.settings import get_settings, reset_settings
from models import PhaseKind
from notifications.channels import demo_config
from tests.flows.small_county import write_small_county
from tests.integration.mailserver import PASSWORD, MailServer
from tests.users import app_for, make_user, office

ISSUED = date(2022, 9, 28)
OFFICE = "office"  # the office user (编办) the tracker and the dispatcher run as
B01_ITEM, A01_ITEM = 4, 1
TAGS = [
    "a01",
    "a01-head",
    "a02",
    "a02-head",
    "b01",
    "b01-head",
    "section-ops",
    "section-inspection",
    "leadership",
]


@pytest.fixture(scope="module")
def issued_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One database with the county assessed and its problem lists approved, copied per test."""
    folder = tmp_path_factory.mktemp("county")
    path = folder / "template.db"
    url = f"sqlite:///{path}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BIHUAN_DATABASE_URL", url)
        reset_settings()
        upgrade(url)
        office(url, OFFICE)
        import_path(
            url, write_small_county(folder / "c"), year=2022, jurisdiction="juxian", actor="t"
        )
        from flows.cycle import annual_cycle
        from flows.problems import issue_problem_lists

        boss = office(url).login
        annual_cycle(
            jurisdiction="juxian",
            run_as=boss,
            year=2022,
            phase=PhaseKind.MID_YEAR,
            as_of=date(2022, 7, 1),
            seed=7,
        )
        done = issue_problem_lists(
            jurisdiction="juxian",
            run_as=boss,
            year=2022,
            phase=PhaseKind.MID_YEAR,
            as_of=ISSUED,
            auto_approve=boss,
        )
        assert done.items_created == 4
    get_engine(url).dispose()
    reset_settings()
    yield path


@pytest.fixture
def county(
    issued_template: Path, tmp_path: Path, use_db: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A private copy of the issued county; every apprise tag goes to a sink in tmp_path."""
    path = tmp_path / "bihuan.db"
    shutil.copy(issued_template, path)
    monkeypatch.setenv("BIHUAN_JURISDICTION", "juxian")
    config = tmp_path / "apprise.yml"
    config.write_text(demo_config(TAGS, tmp_path / "outbox"), encoding="utf-8")
    monkeypatch.setenv("BIHUAN_APPRISE_CONFIG", str(config))
    return str(use_db(f"sqlite:///{path}"))


def q(url: str, sql: str, **params: Any) -> list[Any]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(sql), params).all())


def run(url: str, day: date) -> TrackSummary:
    """One tracker run through the use case, without Prefect."""
    with UnitOfWork(app_for(url)) as uow:
        return tracking.track(uow, identity.actor_for(uow, OFFICE), "juxian", day)


def days(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


def notices_by_day(url: str, first: date, last: date) -> dict[date, dict[int, NoticeRow]]:
    out: dict[date, dict[int, NoticeRow]] = {}
    for day in days(first, last):
        summary = run(url, day)
        if summary.rows:
            out[day] = {r.item: r for r in summary.rows}
    return out


def level_of(url: str, item: int) -> str | None:
    return q(url, "SELECT escalation_level FROM rectificationitem WHERE id = :i", i=item)[0][0]


# ------------------------------------------------------------------ the ladder, day by day


def test_ladder_across_national_day_with_levels_recipients_and_digests(county: str) -> None:
    seen = notices_by_day(county, date(2022, 9, 29), date(2022, 11, 30))
    b01 = {day: n[B01_ITEM] for day, n in seen.items() if B01_ITEM in n}
    # National Day (Oct 1-7) and the weekends give nothing; the 调休 Saturday Oct 8 is worked.
    assert [(d.isoformat(), n.step) for d, n in b01.items()] == [
        ("2022-10-10", "pre-5"),
        ("2022-10-13", "pre-2"),
        ("2022-10-14", "pre-1"),
        ("2022-10-17", "due"),
        ("2022-10-18", "overdue-1"),
        ("2022-10-20", "escalate-head"),  # 3 working days overdue; stands for overdue-3 too
        ("2022-10-25", "escalate-section"),
        ("2022-10-26", "overdue-7"),
        ("2022-10-31", "escalate-leadership"),
        ("2022-11-07", "overdue-15"),  # backoff: gaps 1, 2, 4, 8, 8, ...
        ("2022-11-17", "overdue-23"),
        ("2022-11-29", "overdue-31"),
    ]
    assert b01[date(2022, 10, 20)].skipped == ["overdue-3"]
    # recipients accumulate up the ladder
    assert b01[date(2022, 10, 10)].recipients == ["b01"]
    assert b01[date(2022, 10, 20)].recipients == ["b01", "b01-head"]
    assert b01[date(2022, 10, 25)].recipients == ["b01", "b01-head", "section-ops"]
    assert b01[date(2022, 10, 31)].recipients == ["b01", "b01-head", "section-ops", "leadership"]
    assert b01[date(2022, 10, 31)].level_label == "编办领导"
    # A01's finding is a staffing one: its supervising section is the inspection section
    assert seen[date(2022, 11, 8)][A01_ITEM].recipients == ["a01", "a01-head", "section-inspection"]
    assert level_of(county, B01_ITEM) == "leadership"
    assert level_of(county, A01_ITEM) == "leadership"

    # one digest per recipient per day, and markers (never sent) per (item, step, recipient)
    digests = q(county, "SELECT business_date, recipient_tag FROM notification WHERE kind='digest'")
    assert all(n == 1 for n in Counter(digests).values())
    markers = q(
        county, "SELECT status, count(*) FROM notification WHERE kind='reminder' GROUP BY status"
    )
    assert markers == [
        (
            "digested",
            sum(len(n.recipients) for d in seen.values() for n in d.values()),
        )
    ]
    # A02 has two items due the same day: one digest lists both
    (body,) = q(
        county,
        "SELECT body FROM notification WHERE idempotency_key LIKE 'digest_%_2022-10-24_a02'",
    )[0]
    assert "今日共有 2 项整改事项" in body and "剩余5个工作日" in body and "县财政局" in body
    assert body.rstrip().endswith("莒县县委编办\n2022年10月24日")  # signed by policy.office_name

    # weekend and holiday runs record nothing, not even the last run
    before = q(county, "SELECT count(*) FROM notification")[0][0]
    assert not run(county, date(2022, 12, 3)).working_day  # a Saturday
    assert q(county, "SELECT count(*) FROM notification")[0][0] == before
    assert q(county, "SELECT value FROM jobstate")[0][0] == "2022-11-30"


@pytest.mark.reliability
def test_running_twice_on_a_day_plans_nothing_new(county: str) -> None:
    first = run(county, date(2022, 10, 10))
    assert first.notices == 1 and first.digests == 1
    count = q(county, "SELECT count(*) FROM notification")[0][0]
    again = run(county, date(2022, 10, 10))
    assert again.notices == 0 and again.digests == 0
    assert q(county, "SELECT count(*) FROM notification")[0][0] == count


@pytest.mark.reliability
def test_outage_of_ten_days_gives_one_consolidated_notice_per_item(county: str) -> None:
    run(county, date(2022, 10, 10))  # B01 pre-5, then the tracker is down until Nov 8
    summary = run(county, date(2022, 11, 8))
    by_item = {r.item: r for r in summary.rows}
    assert sorted(by_item) == [1, 2, 3, 4]  # one notice per item, no burst
    assert by_item[B01_ITEM].step == "overdue-15"
    assert by_item[B01_ITEM].level == "leadership"
    assert by_item[A01_ITEM].step == "escalate-section"
    assert by_item[A01_ITEM].skipped == [
        "pre-5",
        "pre-2",
        "pre-1",
        "due",
        "overdue-1",
        "overdue-3",
        "escalate-head",
    ]
    digests = q(
        county,
        "SELECT recipient_tag, body FROM notification WHERE kind='digest' AND business_date='2022-11-08'",
    )
    assert sorted(t for t, _ in digests) == sorted(TAGS)
    a02 = dict(digests)["a02"]
    assert a02.count("【逾期催办】") == 2 and "已逾期6个工作日" in a02
    # the next day continues from there: no old step comes back
    nxt = run(county, date(2022, 11, 9))
    assert {r.item: r.step for r in nxt.rows} == {
        1: "overdue-7",
        2: "overdue-7",
        3: "overdue-7",
    }


def test_a_department_response_freezes_its_level(county: str) -> None:
    from bihuan.core.rectification import Action
    from bihuan.services import rectification
    from bihuan.vocab import UserRole

    contact = make_user(county, "A01lx", UserRole.DEPARTMENT, department="A01", name="张三")
    for day in days(date(2022, 10, 31), date(2022, 11, 3)):
        run(county, day)
    assert level_of(county, A01_ITEM) == "head"
    with UnitOfWork(app_for(county)) as uow:
        rectification.act(
            uow,
            rectification.Act(
                jurisdiction="juxian",
                item_id=A01_ITEM,
                action=Action.START,
                reason="已启动入编出编登记补办",
            ),
            contact,
            date(2022, 11, 4),
        )
    seen = notices_by_day(county, date(2022, 11, 4), date(2022, 11, 30))
    assert level_of(county, A01_ITEM) == "head"  # frozen: the department answered
    assert level_of(county, 2) == "leadership"  # its neighbour kept silent
    a01_steps = [n[A01_ITEM].step for n in seen.values() if A01_ITEM in n]
    assert a01_steps and not any(s.startswith("escalate") for s in a01_steps)
    assert all(
        n[A01_ITEM].recipients == ["a01", "a01-head"] for n in seen.values() if A01_ITEM in n
    )


# ------------------------------------------------------------------ the flows, the outbox


@pytest.mark.reliability
def test_crash_between_commit_and_send_delivers_exactly_once(county: str, tmp_path: Path) -> None:
    from flows.dispatch import dispatch_notifications
    from flows.track import track_rectifications

    outbox = tmp_path / "outbox"
    # the process "dies" after the commit: nothing dispatched
    written = track_rectifications(
        jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 10), dispatch=False
    )
    assert written.digests == 1 and written.dispatch is None
    assert not outbox.exists()
    # the next run finds the steps recorded, plans nothing, and its dispatcher sends the backlog
    again = track_rectifications(jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 10))
    assert again.notices == 0
    assert again.dispatch is not None and again.dispatch.sent == 4  # 3 problem lists + 1 digest
    assert (
        dispatch_notifications(
            jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 10)
        ).claimed
        == 0
    )
    files = sorted(outbox.glob("*.txt"))
    assert len(files) == 4
    # each problem list's rectification workbook beside it (no portal address: attached)
    assert len(list(outbox.glob("*-整改台账-*.xlsx"))) == 3
    digest = [f.read_text(encoding="utf-8") for f in files if "每日汇总" in f.read_text("utf-8")]
    assert len(digest) == 1 and "县教育和体育局" in digest[0] and "剩余5个工作日" in digest[0]
    sent = q(
        county,
        "SELECT status, attempts FROM notification WHERE kind IN ('digest', 'problem_list')",
    )
    assert sent == [("sent", 1)] * 4
    # a weekend run of the flow records nothing
    assert not track_rectifications(
        jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 15)
    ).working_day


@pytest.mark.reliability
def test_the_tracker_commits_before_it_dispatches(
    county: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Markers, digests and the last run are committed before the first send, and no send
    happens while the tracker's transaction is open: a probe channel takes SQLite's write lock
    (without waiting) from inside every send and sees the day's digests."""
    import sqlite3

    from apprise.decorators import notify

    from bihuan.settings import reset_settings

    db_file = county.removeprefix("sqlite:///")
    seen: list[tuple[int, int]] = []

    @notify(on="trackprobe", name="tracker probe")
    def _probe(body: str, title: str, notify_type: str, meta: Any, *a: Any, **k: Any) -> bool:
        conn = sqlite3.connect(db_file, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # fails at once if a writer holds the lock
            digests = conn.execute(
                "SELECT count(*) FROM notification WHERE kind = 'digest'"
            ).fetchone()[0]
            runs = conn.execute("SELECT count(*) FROM jobstate").fetchone()[0]
            conn.execute("ROLLBACK")
        finally:
            conn.close()
        seen.append((digests, runs))
        return True

    config = tmp_path / "probe.yml"
    config.write_text(
        "urls:\n" + "".join(f'  - "trackprobe://x":\n    - tag: {t}\n' for t in TAGS),
        encoding="utf-8",
    )
    monkeypatch.setenv("BIHUAN_APPRISE_CONFIG", str(config))
    reset_settings()
    from flows.track import track_rectifications

    summary = track_rectifications(jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 10))
    assert summary.digests >= 1 and summary.dispatch is not None
    assert len(seen) == summary.dispatch.sent >= summary.digests
    assert all(digests >= summary.digests and runs == 1 for digests, runs in seen)


def test_the_send_task_is_never_retried_by_prefect() -> None:
    """A retry after a message was accepted would send it again (the dispatcher retries the
    writes of outcomes itself)."""
    from flows.dispatch import send_due

    assert send_due.retries == 0


@pytest.fixture
def mail() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


def test_digest_reaches_a_real_smtp_server_once_and_config_gaps_are_reported(
    county: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: MailServer
) -> None:
    from flows.dispatch import dispatch_notifications
    from flows.track import track_rectifications

    config = tmp_path / "mail.yml"
    config.write_text(
        f'version: 1\nurls:\n  - "{mail.url("b01@juxian.example.cn")}":\n    - tag: b01\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("BIHUAN_APPRISE_CONFIG", str(config))
    reset_settings()
    # the problem lists: only B01 has a channel
    first = dispatch_notifications(jurisdiction="juxian", run_as=OFFICE, as_of=ISSUED)
    assert (first.sent, first.failed) == (1, 2)
    gaps = first.failures
    assert [(g.department, g.config_errors) for g in gaps] == [("A01", 1), ("A02", 1)]
    assert any("no channel configured for tag 'a01'" in e for e in gaps[0].errors)

    tracked = track_rectifications(jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 10))
    assert tracked.dispatch is not None and tracked.dispatch.sent == 1
    # again: nothing new
    track_rectifications(jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 10))
    dispatch_notifications(jurisdiction="juxian", run_as=OFFICE, as_of=date(2022, 10, 11))
    assert len(mail.received) == 2
    got = mail.received[1]
    assert got.rcpt_tos == ["b01@juxian.example.cn"]
    assert got.subject == "【每日汇总】2022年10月10日 县教育和体育局：1项整改事项需关注"
    assert "【到期前提醒】县教育和体育局" in got.text
    assert "整改期限：2022年10月17日，剩余5个工作日" in got.text
    stored = q(county, "SELECT last_error FROM notification WHERE status = 'failed'")
    assert stored and all(PASSWORD not in e for (e,) in stored)


# ------------------------------------------------------------------ the CLI


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    from bihuan.cli import _register_commands, app

    monkeypatch.setenv("COLUMNS", "250")
    _register_commands()
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def test_cli_lists_without_secrets_and_resend_requeues_after_a_fix(
    county: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    import json

    token = "SECRETTOKEN12345"
    broken = tmp_path / "broken.yml"
    broken.write_text(
        f'version: 1\nurls:\n  - "json://127.0.0.1:9/hook?token={token}":\n    - tag: b01\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("BIHUAN_APPRISE_CONFIG", str(broken))
    reset_settings()
    result = cli("track", "--as-of", "2022-10-10", "--as", OFFICE, "--db", county)
    assert result.exit_code == 0, result.output
    assert "1 notices" in result.output and "config errors 2" in result.output

    listed = cli("notifications", "--as", OFFICE, "--db", county, "--json")
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert {r["kind"] for r in rows} == {"problem_list", "digest", "reminder"}
    assert token not in listed.output and "json://" not in listed.output
    assert set(rows[0]) == {
        "id",
        "key",
        "department",
        "recipient_tag",
        "recipient_label",
        "kind",
        "kind_label",
        "subject",
        "status",
        "status_label",
        "attempts",
        "last_error",
        "business_date",
        "sent_at",
    }
    b01 = [r for r in rows if r["recipient_tag"] == "b01" and r["kind"] != "reminder"]
    assert b01 and all(r["status"] == "pending" and r["last_error"] for r in b01)  # retrying
    failed = json.loads(
        cli("notifications", "--as", OFFICE, "--db", county, "--status", "failed", "--json").output
    )
    assert sorted(r["department"] for r in failed) == ["A01", "A02"]

    # the coordinator adds the missing channels, re-queues, and the dispatcher delivers
    monkeypatch.setenv("BIHUAN_APPRISE_CONFIG", str(tmp_path / "apprise.yml"))
    reset_settings()
    # --as-of: the calendar is simulated, so the rows are due from that business day on
    out = cli(
        "notifications",
        "resend",
        "--status",
        "failed",
        "--as-of",
        "2022-10-11",
        "--as",
        OFFICE,
        "--db",
        county,
    )
    assert "re-queued 2" in out.output
    bad = cli("notifications", "resend", "--id", "999", "--as", OFFICE, "--db", county)
    assert bad.exit_code == 1 and "no such notification" in bad.output
    sent = cli("dispatch", "--as-of", "2022-10-11", "--as", OFFICE, "--db", county, "--json")
    assert json.loads(sent.output)["sent"] == 4  # 2 re-queued lists + B01's list and digest
    assert q(county, "SELECT count(*) FROM notification WHERE status IN ('failed', 'pending')") == [
        (0,)
    ]


def test_cli_writes_the_demo_channel_config_when_none_exists(
    county: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    monkeypatch.delenv("BIHUAN_APPRISE_CONFIG")
    # the county's lists were approved in the default installation: its attachments (the
    # workbooks, under var/) move with it
    approved_in = get_settings().var_dir / "attachments"
    shutil.copytree(approved_in, tmp_path / "home" / "var" / "attachments")
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(Path(__file__).resolve().parents[2] / "config"))
    reset_settings()
    result = cli("dispatch", "--as-of", "2022-09-28", "--as", OFFICE, "--db", county)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "local sink" in result.output
    config = (tmp_path / "home" / "var" / "apprise.yml").read_text(encoding="utf-8")
    for tag in TAGS:
        assert f"tag: {tag}" in config
    assert len(list((tmp_path / "home" / "var" / "outbox").glob("*.txt"))) == 3


def test_cli_refuses_a_department_user_and_lists_only_its_own(county: str, cli: Any) -> None:
    import json

    from bihuan.vocab import UserRole
    from tests.users import make_user

    make_user(county, "A01lx", UserRole.DEPARTMENT, department="A01")
    before = q(county, "SELECT id, status, attempts FROM notification ORDER BY id")
    for args in (
        ("track", "--as-of", "2022-10-10"),
        ("dispatch", "--as-of", "2022-10-10"),
        ("notifications", "resend", "--status", "failed"),
    ):
        result = cli(*args, "--as", "A01lx", "--db", county)
        assert result.exit_code == 3, result.output
        assert "user A01lx (department of A01) may not" in result.output
    assert q(county, "SELECT id, status, attempts FROM notification ORDER BY id") == before
    assert q(county, "SELECT count(*) FROM jobstate") == [(0,)]
    listed = cli("notifications", "--as", "A01lx", "--db", county, "--json")
    assert listed.exit_code == 0, listed.output
    assert {r["department"] for r in json.loads(listed.output)} == {"A01"}
    other = cli("notifications", "--department", "A02", "--as", "A01lx", "--db", county)
    assert other.exit_code == 3 and "is not of department A01" in other.output


@pytest.mark.postgres
def test_tracker_on_postgresql(tmp_path: Path, pg_url: str, use_db: Any) -> None:
    """The same transaction on PostgreSQL: row lock on the job state, bulk level update."""
    from flows.cycle import annual_cycle
    from flows.problems import issue_problem_lists

    use_db(pg_url)
    upgrade(pg_url)
    office(pg_url, OFFICE)
    import_path(
        pg_url, write_small_county(tmp_path / "c"), year=2022, jurisdiction="juxian", actor="t"
    )
    boss = office(pg_url).login
    annual_cycle(
        jurisdiction="juxian",
        run_as=boss,
        year=2022,
        phase=PhaseKind.MID_YEAR,
        as_of=date(2022, 7, 1),
        seed=7,
    )
    issue_problem_lists(
        jurisdiction="juxian",
        run_as=boss,
        year=2022,
        phase=PhaseKind.MID_YEAR,
        as_of=ISSUED,
        auto_approve=boss,
    )
    assert run(pg_url, date(2022, 10, 10)).notices == 1
    assert run(pg_url, date(2022, 10, 10)).notices == 0
    outage = run(pg_url, date(2022, 11, 8))
    assert sorted(r.item for r in outage.rows) == [1, 2, 3, 4]
    levels = q(pg_url, "SELECT id, escalation_level FROM rectificationitem ORDER BY id")
    assert levels == [(1, "section"), (2, "section"), (3, "section"), (4, "leadership")]
    assert q(pg_url, "SELECT value FROM jobstate") == [("2022-11-08",)]
