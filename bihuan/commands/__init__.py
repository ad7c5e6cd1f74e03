"""CLI commands grouped by subject; each module's `register(app)` attaches its commands.

`COMMANDS` names every top-level command with its module and one-line help, so `bihuan --help`
lists them without importing any module, and a module is imported only when one of its
commands runs (bihuan.cli.BihuanGroup). A test keeps this table equal to what the modules
register.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import typer

# command -> (module in bihuan.commands, one-line help); the order is that of `bihuan --help`
COMMANDS: dict[str, tuple[str, str]] = {
    "departments": ("listings", "List the departments (部门) of a jurisdiction."),
    "indicators": ("listings", "List the ledger indicators (履职台账指标) of a year."),
    "template": ("ingest", "Write blank import templates (导入模板)."),
    "import": ("ingest", "Import a year's inputs (履职台账 and the rest), all or nothing."),
    "collect": ("cycle", "Run indicator collection (指标采集) for a phase."),
    "submit": ("cycle", "Record a department's submission (报送) for one indicator."),
    "assess": ("cycle", "Run a phase: collection, then assessment (评估)."),
    "scores": ("cycle", "List department scores (得分) of a phase; --department explains one."),
    "findings": ("problems", "List findings (问题) of a year."),
    "problems": ("problems", "Problem lists (问题清单): issue, approve, list."),
    "rectify": ("rectify", "Rectification ledger (整改台账): respond, verify, decide, Excel."),
    "rectifications": ("rectify", "List rectification items (整改事项)."),
    "track": ("notify", "Daily tracking (整改跟踪): reminders and escalation."),
    "dispatch": ("notify", "Send what is due in the outbox (发件箱)."),
    "notifications": ("notify", "List or resend notifications (通知)."),
    "recheck": ("results", "Re-check last year's rectification items (次年复查)."),
    "results": ("results", "Annual scores, board, consequences, report (结果运用)."),
    "board": ("results", "The red / yellow / green board (红黄绿榜) of a year."),
    "report": ("results", "Write the year-end report (综合评估情况报告), HTML or PDF."),
    "alternative-lapsed": ("results", "Record that an agreed alternative (替代措施) lapsed."),
    "calendar": ("calendar", "The working-day calendar (工作日): show, check, import-notice."),
    "users": ("users", "Users and roles (账号与权限)."),
    "web": ("web", "Run the web portal and REST API (门户), on 127.0.0.1:8000 by default."),
    "sessions": ("web", "The portal's sign-in sessions: list, revoke."),
    "tokens": ("web", "Personal access tokens for the REST API: create, list, revoke."),
    "audit": ("audit", "The audit log (审计日志): verify, log."),
    "backup": ("backup", "Write a consistent backup of the database (备份)."),
    "restore": ("backup", "Restore a backup into the database (恢复)."),
    "init": ("init", "Create an installation folder (安装目录): bihuan.env, config/, var/."),
    "demo": ("demo", "Build and run the demo county (莒县)."),
    "server": ("server", "Run a Prefect server on loopback (UI, schedules, approvals)."),
    "serve": ("server", "Serve the scheduled deployments (定时运行)."),
    "deploy": ("server", "Register the deployments to a work pool (for workers)."),
    "deployments": ("server", "List the scheduled deployments."),
}


def modules() -> list[str]:
    return list(dict.fromkeys(module for module, _help in COMMANDS.values()))


@cache
def load_module_commands(module: str) -> dict[str, Any]:
    """The click commands one module registers (imported on first use)."""
    app = typer.Typer()
    importlib.import_module(f"bihuan.commands.{module}").register(app)
    group = typer.main.get_group(app)
    return dict(group.commands)


def register(app: typer.Typer) -> None:
    """Register every command eagerly (tests; see bihuan.cli._register_commands)."""
    for module in modules():
        importlib.import_module(f"bihuan.commands.{module}").register(app)
