"""A scheduled run that fails tells the office through the outbox, once per flow and day
(issue 11.6), and the daily run checkpoints the audit chain (issue 11.3)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bihuan.db import get_engine
from bihuan.ingest.load import import_path
from flows.scheduled import daily_tracking
from tests.flows.small_county import write_small_county
from tests.users import office

pytestmark = pytest.mark.reliability
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def county(tmp_path: Path, sqlite_db: str, use_db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    # a policy whose calendar has no provisional years: 2031 is then unknown, and a run fails
    config = tmp_path / "config"
    config.mkdir()
    policy = (REPO / "config" / "policy.toml").read_text(encoding="utf-8")
    config.joinpath("policy.toml").write_text(
        policy.replace("provisional = true", "provisional = false"), encoding="utf-8"
    )
    shutil.copy(REPO / "config" / "prefect-logging.yml", config)
    monkeypatch.setenv("BIHUAN_CONFIG_DIR", str(config))
    monkeypatch.setenv("BIHUAN_HOME", str(tmp_path))
    use_db(sqlite_db)
    import_path(
        sqlite_db, write_small_county(tmp_path / "c"), year=2022, jurisdiction="juxian", actor="t"
    )
    boss = office(sqlite_db)
    from bihuan.services import notifications
    from bihuan.services.uow import UnitOfWork
    from notifications.channels import write_demo_config
    from tests.users import app_for

    with UnitOfWork(app_for(sqlite_db), readonly=True) as uow:
        tags = notifications.recipient_tags(uow, boss, "juxian")
    write_demo_config(tmp_path / "var" / "apprise.yml", tags, tmp_path / "var" / "outbox")
    return sqlite_db


def alerts(url: str) -> list[tuple[str, str, str]]:
    with get_engine(url).connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT idempotency_key, recipient_tag, subject FROM notification "
                    "WHERE kind = 'office_alert'"
                )
            )
        ]


def test_a_failed_daily_run_alerts_the_office_once_per_day(county: str) -> None:
    assert (
        "provisional = false"
        in (Path(__import__("os").environ["BIHUAN_CONFIG_DIR"]) / "policy.toml").read_text()
    )
    for _ in range(2):
        with pytest.raises(Exception, match="no working-day calendar for 2031"):
            daily_tracking(jurisdiction="juxian", run_as="office", as_of=date(2031, 3, 3))
    [(key, tag, subject)] = alerts(county)
    assert key == "alert:juxian:daily-tracking:2031-03-03" and tag == "office"
    assert "运行失败" in subject and "daily-tracking" in subject


def test_the_daily_run_checkpoints_the_audit_chain(county: str) -> None:
    daily_tracking(jurisdiction="juxian", run_as="office", as_of=date(2022, 10, 10))
    with get_engine(county).connect() as conn:
        (seq,) = conn.execute(text("SELECT max(seq) FROM auditcheckpoint")).one()
        (head,) = conn.execute(
            text("SELECT seq FROM audithead WHERE chain_id = (SELECT id FROM jurisdiction)")
        ).one()
    assert seq is not None and seq <= head
