"""Process-wide environment: where the project's var/ is, and Prefect's offline settings."""

from __future__ import annotations

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
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
