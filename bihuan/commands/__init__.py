"""CLI commands grouped by subject; `register(app)` attaches them all."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from bihuan.commands import listings

    listings.register(app)
