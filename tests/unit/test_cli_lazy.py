"""The command line loads lazily: the table of commands matches what the modules register,
and `bihuan --help` imports neither SQLAlchemy nor Prefect nor the table classes."""

from __future__ import annotations

import subprocess
import sys

import typer

from bihuan.commands import COMMANDS, modules


def test_the_command_table_names_exactly_what_the_modules_register() -> None:
    import importlib

    registered: dict[str, str] = {}
    for module in modules():
        app = typer.Typer()
        importlib.import_module(f"bihuan.commands.{module}").register(app)
        group = typer.main.get_group(app)
        for name in group.commands:
            registered[name] = module
    assert registered == {name: module for name, (module, _help) in COMMANDS.items()}


def test_help_imports_no_database_or_prefect_code() -> None:
    code = (
        "import sys; sys.argv = ['bihuan', '--help']\n"
        "import bihuan.cli as c\n"
        "try:\n    c.main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'prefect', 'models', 'pydantic_settings')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout[-500:]
    assert "departments" in out.stdout and "rectifications" in out.stdout
