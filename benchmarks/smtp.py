"""A counting SMTP server on loopback (aiosmtpd) and the apprise config that points tags at it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingSmtp:
    """Accepts every message and only counts it (the benchmark measures the sender, not this)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"

    def __enter__(self) -> CountingSmtp:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, to: str) -> str:
        # mailto:// is plain SMTP (no TLS), which the loopback server needs.
        return f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&from=bihuan@bench.local&to={to}"


def write_config(path: Path, server: CountingSmtp, tags: list[str]) -> Path:
    """One mailto URL per recipient tag, as a real installation has one address per recipient."""
    doc = {"version": 1, "urls": [{server.url(f"{t}@bench.local"): [{"tag": t}]} for t in tags]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
