"""CLI commands grouped by subject; `register(app)` attaches them all."""

from __future__ import annotations

import importlib

import typer

# Each module defines `register(app)`; the order is the order of `bihuan --help`.
MODULES = (
    "init",
    "listings",
    "ingest",
    "cycle",
    "notify",
    "results",
    "rectify",
    "problems",
    "calendar",
    "users",
    "audit",
    "backup",
    "demo",
    "server",
)


def register(app: typer.Typer) -> None:
    for name in MODULES:
        importlib.import_module(f"bihuan.commands.{name}").register(app)
