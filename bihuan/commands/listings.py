"""Listings: departments and indicators (table or --json)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import select

from bihuan.cli import DbOpt, JsonOpt, JurOpt, ctx_for, print_json, print_table
from bihuan.db import get_jurisdiction, session_scope
from bihuan.errors import UserError
from models import AssessmentTeam, BusinessSection, Cycle, Department, Indicator


def register(app: typer.Typer) -> None:
    app.command("departments")(departments)
    app.command("indicators")(indicators)


def departments(db: DbOpt = None, jurisdiction: JurOpt = None, json: JsonOpt = False) -> None:
    """List the departments (部门) of a jurisdiction."""
    ctx = ctx_for(db, jurisdiction)
    with session_scope(ctx.db_url) as session:
        jur = get_jurisdiction(session, ctx.jurisdiction)
        if jur is None:
            raise UserError(
                f"no jurisdiction {ctx.jurisdiction!r} in the database; run `bihuan import` first"
            )
        teams = {
            t.id: t.code
            for t in session.exec(
                select(AssessmentTeam).where(AssessmentTeam.jurisdiction_id == jur.id)
            )
        }
        rows = session.exec(
            select(Department).where(Department.jurisdiction_id == jur.id).order_by(Department.code)  # type: ignore[arg-type]
        ).all()
        data = [
            {
                "code": d.code,
                "name": d.name,
                "category": d.category,
                "team": teams.get(d.team_id),
                "head_name": d.head_name,
                "contact_name": d.contact_name,
                "notify_tags": d.notify_tags,
                "active": d.active,
            }
            for d in rows
        ]
    if json:
        print_json(data)
        return
    print_table(
        f"部门 departments ({len(data)})",
        ["code", "name", "category", "team", "head", "active"],
        [
            [d["code"], d["name"], d["category"], d["team"], d["head_name"], d["active"]]
            for d in data
        ],
    )


def indicators(
    year: Annotated[int, typer.Option(help="Cycle year.")],
    department: Annotated[str | None, typer.Option(help="Only this department code.")] = None,
    db: DbOpt = None,
    jurisdiction: JurOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the ledger indicators (履职台账指标) of a year."""
    ctx = ctx_for(db, jurisdiction)
    with session_scope(ctx.db_url) as session:
        jur = get_jurisdiction(session, ctx.jurisdiction)
        cycle = (
            jur
            and session.exec(
                select(Cycle).where(Cycle.jurisdiction_id == jur.id, Cycle.year == year)
            ).first()
        )
        if cycle is None:
            raise UserError(
                f"no {year} ledger for {ctx.jurisdiction!r}; import one with `bihuan import PATH --year {year}`"
            )
        stmt = (
            select(Indicator, Department.code, BusinessSection.code)
            .join(Department, Department.id == Indicator.department_id)  # type: ignore[arg-type]
            .join(BusinessSection, BusinessSection.id == Indicator.section_id)  # type: ignore[arg-type]
            .where(Indicator.cycle_id == cycle.id)
            .order_by(Indicator.code)  # type: ignore[arg-type]
        )
        if department:
            stmt = stmt.where(Department.code == department)
        data = [
            {
                "code": ind.code,
                "department": dcode,
                "section": scode,
                "name": ind.name,
                "kind": ind.kind,
                "unit": ind.unit,
                "direction": ind.direction,
                "target": ind.target,
                "weight": ind.weight,
                "source_document": ind.source_document,
            }
            for ind, dcode, scode in session.exec(stmt).all()
        ]
    if json:
        print_json(data)
        return
    print_table(
        f"{year} 履职台账 indicators ({len(data)})",
        ["code", "department", "section", "name", "kind", "unit", "target"],
        [
            [d["code"], d["department"], d["section"], d["name"], d["kind"], d["unit"], d["target"]]
            for d in data
        ],
    )
