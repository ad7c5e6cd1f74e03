"""Prefect's temporary server (local mode) dies with the process that started it.

Without PREFECT_API_URL a process that runs a flow starts a temporary Prefect server, a
`python -m uvicorn` subprocess (prefect.server.api.server.SubprocessASGIServer), and stops it at
exit. A process killed with SIGKILL never reaches that exit, and the server ran on, orphaned.
`server_dies_with_parent()` starts it through a small watchdog instead: a thread in the
server's own process that notices when its parent is gone and stops the server (SIGTERM, so
uvicorn shuts down cleanly; a hard exit if that hangs). Polling the parent id works whichever
thread started the server (PR_SET_PDEATHSIG would fire when that thread ends, not the process).
"""

from __future__ import annotations

import os
import subprocess
import types
from typing import Any

POLL_SECONDS = 0.5

WATCHDOG = f"""
import os, runpy, signal, sys, threading, time
parent = int(sys.argv[1])
def watch():
    while os.getppid() == parent:
        time.sleep({POLL_SECONDS})
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)
    os._exit(1)
threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
sys.argv = [sys.argv[0], *sys.argv[2:]]
runpy.run_module("uvicorn", run_name="__main__", alter_sys=True)
"""


def watched(args: Any) -> Any:
    """`python -m uvicorn ARGS` → `python -c WATCHDOG <our pid> ARGS`; anything else as is."""
    if isinstance(args, list | tuple) and len(args) >= 3 and list(args[1:3]) == ["-m", "uvicorn"]:
        return [args[0], "-c", WATCHDOG, str(os.getpid()), *args[3:]]
    return args


def _popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
    if args:
        args = (watched(args[0]), *args[1:])
    elif "args" in kwargs:
        kwargs["args"] = watched(kwargs["args"])
    return subprocess.Popen(*args, **kwargs)


def server_dies_with_parent() -> bool:
    """Start Prefect's temporary server through the watchdog (idempotent). Only where it will be
    used: with a real server configured (PREFECT_API_URL) nothing is imported or changed."""
    if os.environ.get("PREFECT_API_URL"):
        return False
    from prefect.server.api import server as server_module

    current = server_module.subprocess
    if getattr(current, "_bihuan_watchdog", False):
        return True
    proxy = types.SimpleNamespace(
        **{k: getattr(subprocess, k) for k in dir(subprocess) if not k.startswith("__")}
    )
    proxy.Popen = _popen
    proxy._bihuan_watchdog = True
    server_module.subprocess = proxy  # type: ignore[assignment]
    return True


__all__ = ["WATCHDOG", "server_dies_with_parent", "watched"]
