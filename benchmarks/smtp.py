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


class _Counter:
    """aiosmtpd handler: accepts every message and only counts it."""

    def __init__(self, count: Any) -> None:
        self.count = count

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.count.get_lock():
            self.count.value += 1
        return "250 OK"


def _serve(port: int, count: Any, ready: Any) -> None:
    import time

    from aiosmtpd.controller import Controller

    controller = Controller(_Counter(count), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


class CountingSmtp:
    """Accepts every message and only counts it (the benchmark measures the sender, not this).

    The server runs in a process of its own, as a real mail server does: in the sender's
    process its event loop competed with the sender for the GIL, and any CPU work between two
    sends (the outbox's transactions) then cost a GIL switch interval per SMTP reply."""

    def __init__(self) -> None:
        import multiprocessing

        self.port = free_port()
        self._mp = multiprocessing.get_context("fork")
        self._count = self._mp.Value("i", 0)
        self._process: Any = None

    @property
    def received(self) -> int:
        return int(self._count.value)

    def __enter__(self) -> CountingSmtp:
        ready = self._mp.Event()
        self._process = self._mp.Process(
            target=_serve, args=(self.port, self._count, ready), daemon=True
        )
        self._process.start()
        if not ready.wait(30):
            raise RuntimeError("the loopback SMTP server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(10)
            self._process = None

    def url(self, to: str) -> str:
        # mailto:// is plain SMTP (no TLS), which the loopback server needs.
        return f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&from=bihuan@bench.local&to={to}"


def write_config(path: Path, server: CountingSmtp, tags: list[str]) -> Path:
    """One mailto URL per recipient tag, as a real installation has one address per recipient."""
    doc = {"version": 1, "urls": [{server.url(f"{t}@bench.local"): [{"tag": t}]} for t in tags]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
