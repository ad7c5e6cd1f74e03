"""The re-check's look-ups stay within PostgreSQL's 65,535 bound parameters per statement: a
10,000-department jurisdiction carried ~84,000 findings into its re-check and the single IN list
failed ("number of parameters must be between 0 and 65535"; issue 13.3, the giant benchmark)."""

from __future__ import annotations

import pytest

from bihuan.app import app_context
from bihuan.migrate import upgrade
from bihuan.services.uow import UnitOfWork

pytestmark = pytest.mark.postgres


def test_finding_ids_and_event_seqs_take_more_keys_than_one_statement_can(pg_url: str) -> None:
    upgrade(pg_url)
    keys = [f"carried:2025:mid-year:indicator:D{i:05d}" for i in range(70_000)]
    with UnitOfWork(app_context(pg_url), readonly=True) as uow:
        assert uow.recheck.finding_ids(1, keys) == {}
        assert uow.recheck.last_event_seq(list(range(1, 70_001))) == {}
