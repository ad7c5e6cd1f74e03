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


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_a_listing_loads_only_the_tables_it_reads() -> None:
    # `bihuan departments` reads departments and users: the closed loop's, the ledger's and the
    # survey's table classes (and jinja2, which only renders) stay unloaded
    out = _fresh(
        "import sys\nimport bihuan.services.org, bihuan.services.identity\n"
        "print(sorted(m for m in sys.modules if m.startswith('models.') or m == 'jinja2'))"
    )
    loaded = eval(out)  # a printed list of module names
    assert "models.org" in loaded and "models.identity" in loaded
    for heavy in ("models.loop", "models.ledger", "models.survey", "models.draw", "jinja2"):
        assert heavy not in loaded, loaded


def test_models_metadata_holds_every_table() -> None:
    out = _fresh("import models\nprint(len(models.metadata.tables))")
    import models

    models.load_all()
    assert int(out) == len(models.metadata.tables) >= 40


def test_each_table_module_alone_resolves_its_foreign_keys() -> None:
    # A flush resolves every foreign key of the table it writes: a table module must import the
    # modules whose tables its keys name (models/__init__.py loads them lazily)
    import models

    modules = sorted(set(models._WHERE.values()))
    check = (
        "import importlib, sys\n"
        "from sqlmodel import SQLModel\n"
        "m = importlib.import_module(sys.argv[1])\n"
        "for t in list(SQLModel.metadata.tables.values()):\n"
        "    for fk in t.foreign_keys:\n"
        "        fk.column\n"
        "print('ok')\n"
    )
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", check, name], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name in modules
    }
    failed = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0 or b"ok" not in out:
            failed[name] = err.decode()[-400:]
    assert not failed, failed


def test_the_lazy_map_names_every_table_class_of_every_table_module() -> None:
    # models.metadata (Alembic's target) loads the modules of this map: a table missing from it
    # would look dropped to `alembic revision --autogenerate`
    import importlib
    import inspect
    from pathlib import Path

    import models

    folder = Path(models.__file__).parent
    modules = {f"models.{p.stem}" for p in folder.glob("*.py")} - {
        "models.__init__", "models.base", "models.enums"
    }  # fmt: skip
    assert set(models._WHERE.values()) == modules
    classes = {
        name: module
        for module in modules
        for name, obj in inspect.getmembers(importlib.import_module(module), inspect.isclass)
        if obj.__module__ == module and hasattr(obj, "__table__")
    }
    assert {k: v for k, v in models._WHERE.items() if k in classes} == classes
    assert set(classes) <= set(models._WHERE)
