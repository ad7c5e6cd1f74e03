"""Migrations round-trip with data in the tables: a county loaded, one step down, up again,
nothing lost and the audit chain still whole, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import column as sa_column
from sqlalchemy import func, inspect, select, table

from bihuan.db import audit, get_engine, session_scope
from bihuan.demo.generator import build_demo_workbook
from bihuan.ingest.load import import_path
from bihuan.migrate import current, downgrade, head, upgrade
from bihuan.services import audit as audit_service
from bihuan.services.uow import UnitOfWork
from bihuan.vocab import UserRole
from tests.users import app_for, make_user


def counts(url: str) -> dict[str, int]:
    engine = get_engine(url)
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.connect() as conn:
        return {
            n: int(conn.execute(select(func.count()).select_from(table(n))).scalar_one())
            for n in names
        }


@pytest.mark.reliability
def test_one_step_down_and_up_again_keeps_every_row(db_url: str, tmp_path: Path) -> None:
    book = build_demo_workbook(tmp_path / "county.xlsx", 2022, departments=8)
    make_user(db_url, "root", UserRole.ADMIN)
    import_path(db_url, book.path, year=2022, jurisdiction="juxian", actor="root")
    with session_scope(db_url) as s:
        audit(s, actor="root", action="test", entity="x", entity_key="1", details={"n": 1})
    before = counts(db_url)
    assert before["indicator"] > 100 and before["auditlog"] >= 3
    top = current(db_url)
    assert top == head()

    downgrade(db_url, "-1")
    assert current(db_url) != top
    upgrade(db_url)
    after = counts(db_url)
    lost = {t: (n, after.get(t, 0)) for t, n in before.items() if after.get(t, 0) < n}
    assert not lost, f"rows lost by the round trip: {lost}"
    with UnitOfWork(app_for(db_url), readonly=True) as uow:
        from bihuan.services import identity

        result = audit_service.verify(uow, identity.actor_for(uow, "root"))
    assert result.ok, result


def test_0014_puts_the_jurisdiction_into_digest_keys_and_takes_it_out_again(db_url: str) -> None:
    from datetime import date

    from bihuan.core.outbox import NewMessage
    from models import Jurisdiction

    with session_scope(db_url) as s:
        jur = Jurisdiction(code="juxian", name="莒县")
        s.add(jur)
        s.flush()
        jid = int(jur.id)  # type: ignore[arg-type]
    day = date(2022, 10, 24)
    old = ["digest:2022-10-24:leadership", "digest:2022-10-24:leadership:2", "item:5:due:a01"]
    with UnitOfWork(app_for(db_url)) as uow:
        for key in old:
            uow.notifications.enqueue(
                NewMessage(jid, key, None, "leadership", "digest", "s", "b", day)
            )

    def keys() -> list[str]:
        with get_engine(db_url).connect() as conn:
            n = table("notification", sa_column("idempotency_key"))
            return sorted(conn.execute(select(n.c.idempotency_key)).scalars())

    downgrade(db_url, "0013")  # keys written the old way, as a 0013 installation has them
    assert keys() == sorted(old)
    upgrade(db_url)
    new = [f"digest:{jid}:2022-10-24:leadership", f"digest:{jid}:2022-10-24:leadership:2"]
    assert keys() == sorted([*new, "item:5:due:a01"])
    downgrade(db_url, "0013")
    assert keys() == sorted(old)
    upgrade(db_url)
    assert keys() == sorted([*new, "item:5:due:a01"])
