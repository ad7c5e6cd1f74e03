"""CLI commands grouped by subject; `register(app)` attaches them all."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from bihuan.commands import cycle, listings

    listings.register(app)
    from bihuan.commands import ingest

    ingest.register(app)
    cycle.register(app)
    __import__("bihuan.commands.notify", fromlist=["register"]).register(app)
    from bihuan.commands import results

    results.register(app)
    from bihuan.commands import rectify

    rectify.register(app)
    from bihuan.commands import problems

    problems.register(app)
    from bihuan.commands import demo

    demo.register(app)
    from bihuan.commands import server

    server.register(app)
    __import__("bihuan.commands.calendar", fromlist=["register"]).register(app)
