"""The layers and what may import what (docs/architecture.md), enforced on the source.

core (pure) <- repositories <- services <- adapters (flows, CLI commands, web). Adapters reach
the database only through the services; the core reaches nothing but the vocabulary, the
errors and the policy models.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Third-party and project modules each layer must not import.
SIDE_EFFECTS = ("sqlalchemy", "sqlmodel", "prefect", "prefect_dask", "apprise", "typer", "fastapi")
RULES: dict[str, tuple[str, ...]] = {
    "bihuan/vocab.py": ("bihuan", "models", *SIDE_EFFECTS),
    "bihuan/clock.py": ("bihuan", "models", *SIDE_EFFECTS),
    "bihuan/core": (
        *SIDE_EFFECTS,
        "models",
        "bihuan.db",
        "bihuan.repositories",
        "bihuan.services",
        "flows",
        "notifications",
        "bihuan.commands",
        "bihuan.web",
    ),
    "models": ("prefect", "apprise", "typer", "fastapi", "bihuan.services", "flows"),
    "bihuan/repositories": (
        "prefect",
        "apprise",
        "typer",
        "fastapi",
        "bihuan.services",
        "flows",
        "bihuan.commands",
        "bihuan.web",
    ),
    "bihuan/services": (
        "sqlalchemy",
        "sqlmodel",
        "prefect",
        "apprise",
        "typer",
        "fastapi",
        "bihuan.db",
        "flows",
        "bihuan.commands",
        "bihuan.web",
    ),
    # adapters: the database only through the services
    "flows": ("sqlalchemy", "sqlmodel", "models", "bihuan.db", "bihuan.repositories", "typer"),
    "bihuan/commands": (
        "sqlalchemy",
        "sqlmodel",
        "models",
        "bihuan.db",
        "bihuan.repositories",
        "fastapi",
    ),
    "bihuan/web": (
        "sqlalchemy",
        "sqlmodel",
        "models",
        "bihuan.db",
        "bihuan.repositories",
        "typer",
        "prefect",
    ),
    # the Excel adapter of the rectification ledger (workbook out, answers in)
    "bihuan/rectify_excel.py": (
        "sqlalchemy",
        "sqlmodel",
        "models",
        "bihuan.db",
        "bihuan.repositories",
        "typer",
        "fastapi",
        "prefect",
    ),
}

# The unit of work is the one bridge from the services to the database session.
EXEMPT: dict[str, tuple[str, ...]] = {"bihuan/services/uow.py": ("sqlmodel", "bihuan.db")}

# Modules still being moved onto the application layer (issue 9); this list only shrinks.
LEGACY: set[str] = set()


def python_files(where: str) -> Iterator[Path]:
    path = ROOT / where
    yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def forbidden(module: str, banned: tuple[str, ...]) -> str | None:
    for prefix in banned:
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


CASES = [(layer, f) for layer in RULES for f in python_files(layer)]


@pytest.mark.parametrize(("layer", "path"), CASES, ids=[str(f.relative_to(ROOT)) for _, f in CASES])
def test_layer_imports(layer: str, path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    if rel in LEGACY:
        pytest.skip("legacy module, being moved onto the services (issue 9)")
    bad = [
        f"{rel}:{line}: imports {module} ({hit} is not for {layer})"
        for line, module in imports(path)
        if (hit := forbidden(module, RULES[layer])) and hit not in EXEMPT.get(rel, ())
    ]
    assert not bad, "\n".join(bad)


# What the "done" greps for, in the adapters.
ADAPTER_PATTERNS = {
    "a SQL select": re.compile(r"\bselect\("),
    "its own session": re.compile(r"\bsession_scope\b"),
    "a Core table": re.compile(r"\btable\("),
    "an environment write": re.compile(
        r"os\.environ\[[^]]+\]\s*=|os\.environ\.(update|setdefault)\(|\bputenv\("
    ),
}


@pytest.mark.parametrize(
    "path",
    [
        f
        for layer in ("flows", "bihuan/commands", "bihuan/rectify_excel.py")
        for f in python_files(layer)
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_adapters_hold_no_sql_and_write_no_environment(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    if rel in LEGACY:
        pytest.skip("legacy module, being moved onto the services (issue 9)")
    text = path.read_text(encoding="utf-8")
    found = [
        f"{rel}:{text[: m.start()].count(chr(10)) + 1}: {what}"
        for what, pattern in ADAPTER_PATTERNS.items()
        for m in pattern.finditer(text)
    ]
    assert not found, "\n".join(found)


def test_legacy_list_only_names_existing_files() -> None:
    assert all((ROOT / rel).exists() for rel in LEGACY), sorted(
        rel for rel in LEGACY if not (ROOT / rel).exists()
    )
