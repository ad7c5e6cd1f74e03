"""Process-wide environment: where the project's var/ is, and Prefect's offline settings."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path


def project_home() -> Path:
    """The folder that holds var/ and config/: BIHUAN_HOME, else the checkout, else the cwd."""
    env = os.environ.get("BIHUAN_HOME")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists() and (checkout / "config").is_dir():
        return checkout
    return Path.cwd()


def configure_offline_prefect() -> None:
    """Set Prefect's offline settings before prefect is imported, unless the user set them.

    Prefect must never try to reach the internet (telemetry, promotional content), and its
    database and logs stay inside var/.
    """
    var = project_home() / "var"
    defaults = {
        "PREFECT_HOME": str(var / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_UI_ENABLED": "true",
    }
    logging_yml = Path(__file__).resolve().parents[1] / "config" / "prefect-logging.yml"
    if logging_yml.exists():
        defaults["PREFECT_LOGGING_SETTINGS_PATH"] = str(logging_yml)
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect creates its home without parents; in a fresh checkout var/ does not exist yet.
    with contextlib.suppress(OSError):  # Prefect reports an unusable home itself
        Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)


def _user_error_names() -> set[str]:
    from bihuan.errors import UserError

    names, todo = set(), [UserError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


class HideUserErrors(logging.Filter):
    """Console-log filter (config/prefect-logging.yml): a user's mistake raised inside a flow is
    reported once, by the command, as a message; Prefect's console would otherwise print its
    traceback too. The records still reach the Prefect API, so the UI shows them."""

    def filter(self, record: logging.LogRecord) -> bool:
        from bihuan.errors import UserError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, UserError):
            return False
        if record.levelno >= logging.ERROR:
            text = record.getMessage()
            return not any(f"{name}(" in text or f"{name}:" in text for name in _user_error_names())
        return True


def no_flow_heartbeat() -> contextlib.AbstractContextManager[object]:
    """Flow runs started in this process (the CLI, the demo, tests) without Prefect's flow-run
    heartbeat: the engine joins a heartbeat thread that sleeps in 1 s steps, which cost every
    run up to a second (PLATFORM_NOTES). Deployments run by a worker or `bihuan serve` start in
    their own processes and keep it: it is how the server notices a crashed run."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
