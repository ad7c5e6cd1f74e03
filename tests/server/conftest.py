"""Real Prefect servers, `bihuan serve` and workers as subprocesses on loopback, always stopped.

Each subprocess starts in a session of its own, so stopping it stops its children too (the
Prefect server's uvicorn process, a runner's flow-run processes) and nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def offline_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: no inherited Prefect settings, nothing reaches out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BIHUAN_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
        PREFECT_LOGGING_LEVEL="INFO",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # poll quickly so the suite stays short (defaults: 10 s and 10 s)
        PREFECT_RUNNER_POLL_FREQUENCY="2",
        PREFECT_WORKER_QUERY_SECONDS="2",
        BIHUAN_PEER_TOKEN_SECRET="test-secret",
        BIHUAN_CONFIG_DIR=str(REPO / "config"),
        BIHUAN_HOME=str(home),
    )
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the process group we created for `proc`, then kill it if it lingers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    # the leader may be gone while children of the group remain
    try:
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@contextmanager
def running(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop(proc)


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    log: Path | None = None,
    every: float = 0.5,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tail}")


def wait_healthy(api: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=timeout, what=f"{api}/health", log=log)


def prefect_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run the `prefect` command line against the server in env; fail with its output."""
    done = subprocess.run(
        [str(BIN / "prefect"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def prefect_api(api: str) -> Iterator[Any]:
    """Within the block, this process's Prefect calls go to `api`; yields a sync client."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        yield client
