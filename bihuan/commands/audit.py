"""The audit log (审计日志): verify its hash chains, read it."""

from __future__ import annotations

from typing import Annotated

import typer

from bihuan.cli import AsOpt, DbOpt, JsonOpt, acting, console, ctx_for, print_json, print_table
from bihuan.errors import UserError

audit_app = typer.Typer(
    help="The audit log (审计日志): verify its tamper-evident hash chains, read the entries.",
    no_args_is_help=True,
)
OnlyJur = Annotated[
    str | None,
    typer.Option(
        "--jurisdiction", "-j", help="Only this jurisdiction's chain (default: all you may read)."
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    as_: AsOpt = None, db: DbOpt = None, jurisdiction: OnlyJur = None, json: JsonOpt = False
) -> None:
    """Recompute every row's hash and link; exit 1 naming the first broken, missing or altered row."""
    from bihuan.services import audit
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        result = audit.verify(uow, actor, jurisdiction)
    if json:
        print_json(result.model_dump(mode="json"))
    else:
        print_table(
            "审计日志校验 audit chains",
            [
                "chain 链",
                "jurisdiction 辖区",
                "rows 条数",
                "head 末条",
                "checkpoints 检查点",
                "result 结果",
            ],
            [
                [
                    c.chain_id,
                    c.jurisdiction,
                    c.rows,
                    c.head_seq,
                    c.checkpoints,
                    "完好 ok" if c.ok else "已损坏 BROKEN",
                ]
                for c in result.chains
            ],
        )
        for c in result.chains:
            if not c.ok:
                console.print(
                    f"[red]chain {c.chain_id} ({c.jurisdiction}):[/red] {c.problem}",
                    highlight=False,
                    markup=True,
                )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("log")
def log(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many, newest first.")
    ] = 200,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. rectify_verify_accept.")
    ] = None,
    entity: Annotated[
        str | None, typer.Option(help="Only this entity, e.g. rectification_item.")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="Only this entity key, e.g. an item number.")
    ] = None,
    as_: AsOpt = None,
    db: DbOpt = None,
    jurisdiction: OnlyJur = None,
    json: JsonOpt = False,
) -> None:
    """The newest audit entries (auditors and admins)."""
    from bihuan.services import audit
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db)
    actor = acting(ctx, as_)
    if limit < 1:
        raise UserError("--limit must be at least 1")
    with UnitOfWork(ctx, readonly=True) as uow:
        page = audit.read_log(
            uow, actor, jurisdiction, limit=limit, action=action, entity=entity, key=key
        )
    if json:
        print_json(page.model_dump(mode="json"))
        return
    print_table(
        f"审计日志 audit log ({page.shown} of {page.total})",
        ["id", "at 时间", "user 用户", "action 操作", "entity 对象", "key 编号"],
        [
            [e.id, e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.entity, e.entity_key]
            for e in page.entries
        ],
    )
