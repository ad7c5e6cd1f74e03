"""Listings: departments and indicators (table or --json)."""

from __future__ import annotations

from typing import Annotated

import typer

from bihuan.cli import (
    DEFAULT_LIMIT,
    AsOpt,
    DbOpt,
    JsonOpt,
    JurOpt,
    LimitOpt,
    acting,
    ctx_for,
    limited,
    print_json,
    print_table,
)


def register(app: typer.Typer) -> None:
    app.command("departments")(departments)
    app.command("indicators")(indicators)


def departments(
    limit: LimitOpt = DEFAULT_LIMIT,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the departments (部门) of a jurisdiction."""
    from bihuan.services import org
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = limited(org.list_departments(uow, actor, ctx.jurisdiction), limit, "departments")
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"部门 departments ({len(rows)})",
        ["code 代码", "name 名称", "category 类别", "team 小组", "head 负责人", "active 在用"],
        [
            [r.code, r.name, r.category_label, r.team, r.head_name, "是" if r.active else "否"]
            for r in rows
        ],
    )


def indicators(
    year: Annotated[int, typer.Option(help="Cycle year.")],
    department: Annotated[str | None, typer.Option(help="Only this department code.")] = None,
    limit: LimitOpt = DEFAULT_LIMIT,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the ledger indicators (履职台账指标) of a year."""
    from bihuan.services import org
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, jurisdiction)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        rows = limited(
            org.list_indicators(uow, actor, ctx.jurisdiction, year, department), limit, "indicators"
        )
    if json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    print_table(
        f"{year} 履职台账 indicators ({len(rows)})",
        [
            "code 代码",
            "department 部门",
            "section 科室",
            "name 任务",
            "kind 类型",
            "unit 单位",
            "target 目标",
        ],
        [[r.code, r.department, r.section, r.name, r.kind_label, r.unit, r.target] for r in rows],
    )
