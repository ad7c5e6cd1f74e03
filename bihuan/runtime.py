"""Process-wide environment: where the installation is, its env file, Prefect's offline
settings, and pauses of the garbage collector."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The installation's environment file (`bihuan init` writes it): read by the systemd units
# (EnvironmentFile=) and by every bihuan process started with that installation as its home.
ENV_FILE = "bihuan.env"
# Folders configure_offline_prefect created for Prefect's home under the current directory, when
# no installation was given (no BIHUAN_HOME, not a checkout), deepest first.
_created_dirs: list[Path] = []


def shipped(name: str) -> Path:
    """A folder of data the program ships beside its code (`config`, `migrations`, `deploy`):
    inside the installed package, where the wheel puts it as bihuan/_<name> (pyproject.toml), or
    in a checkout, the folder at the repository root."""
    packed = PACKAGE / f"_{name}"
    return packed if packed.is_dir() else PACKAGE.parent / name


def _checkout() -> Path | None:
    root = PACKAGE.parent
    return root if (root / "pyproject.toml").exists() and (root / "config").is_dir() else None


def project_home() -> Path:
    """The folder that holds var/ and config/: BIHUAN_HOME, else the checkout, else the cwd."""
    env = os.environ.get("BIHUAN_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return _checkout() or Path.cwd()


def load_env_file() -> Path | None:
    """Put the home's env file into this process's environment, under whatever the environment
    already sets (as pydantic-settings ranks them), so a command run from a shell sees the same
    settings as the systemd units that read the file with EnvironmentFile=: the database, the
    secrets, and Prefect's own variables (PREFECT_API_URL, ...), which only the environment can
    give Prefect. An env file that exists but cannot be read stops the program: running on
    without it would quietly use another database."""
    path = project_home() / ENV_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        sys.stderr.write(
            f"error: cannot read {path} ({reason}). It holds this installation's settings and "
            "secrets: run bihuan as the user that owns it (e.g. `sudo -u bihuan`), or point "
            "BIHUAN_HOME at another installation.\n"
        )
        raise SystemExit(2) from None
    from dotenv import dotenv_values

    # interpolate=False: systemd does not expand ${VAR} in an EnvironmentFile either, and a
    # password may contain a dollar sign.
    for key, value in dotenv_values(stream=io.StringIO(text), interpolate=False).items():
        if value is not None:
            os.environ.setdefault(key, value)
    return path


def configure_offline_prefect() -> None:
    """Load the installation's env file, then set Prefect's offline settings before prefect is
    imported, unless the environment or the env file set them.

    Prefect must never try to reach the internet (telemetry, promotional content), and its
    database and logs stay inside var/.
    """
    load_env_file()
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
    logging_yml = shipped("config") / "prefect-logging.yml"
    if logging_yml.exists():
        defaults["PREFECT_LOGGING_SETTINGS_PATH"] = str(logging_yml)
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # Prefect creates its home without parents; in a fresh checkout var/ does not exist yet.
    home = Path(os.environ["PREFECT_HOME"]).expanduser()
    missing = [d for d in (home, *home.parents) if not d.exists()]
    with contextlib.suppress(OSError):  # Prefect reports an unusable home itself
        home.mkdir(parents=True, exist_ok=True)
        if "BIHUAN_HOME" not in os.environ and _checkout() is None:
            _created_dirs[:] = missing  # in whatever folder this was run from


def remove_unused_prefect_home() -> None:
    """Remove the folders configure_offline_prefect created for Prefect's home in the current
    directory if nothing was put in them: a command that never starts Prefect (`bihuan init`,
    run from any folder) then leaves no stray var/prefect behind."""
    for path in _created_dirs:
        with contextlib.suppress(OSError):
            path.rmdir()
    _created_dirs.clear()


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

    from flows.local_server import server_dies_with_parent

    # in-process runs start Prefect's temporary server when none is configured: make it die
    # with this process, even on SIGKILL (no orphaned uvicorn)
    server_dies_with_parent()
    return temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def export_for_subprocesses(db_url: str) -> None:
    """The database a served deployment's runs use. `bihuan serve` starts every run in a
    subprocess of its own, which sees only this process's environment, so the URL given with
    --db goes there (and only the URL: the jurisdiction and the user are the runs' parameters)."""
    os.environ["BIHUAN_DATABASE_URL"] = db_url


@contextlib.contextmanager
def old_objects_frozen() -> Iterator[None]:
    """Let the garbage collector skip the objects that existed before the block, while a PDF
    is rendered (bihuan.report_pdf).

    WeasyPrint allocates hundreds of thousands of objects (boxes, styles, layout state), many
    of which live long enough to trigger full collections: two for the county's report, each
    walking the whole heap of a flow or web process (Prefect, SQLAlchemy, pydantic: 250,000 to
    500,000 objects, about 0.15 s a walk). Frozen (`gc.freeze`), the old objects are left out
    of them; what the block allocates is collected as usual, and `gc.unfreeze` hands the old
    objects back to the collector afterwards. CPython then counts the heap as young, so its
    next full collection comes sooner: of the k full walks a render used to cost, one is
    deferred, k - 1 saved. (A block running at the same time in another thread at worst loses
    the saving.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_pause_lock = threading.Lock()
_pauses = 0  # blocks inside collector_paused(), in every thread
_resume = False  # whether the collector was enabled when the first of them began


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a short burst of allocation (a scoring batch:
    tens of thousands of small objects that live until the batch ends, then go by reference
    counting). Left on, the collector walks them again and again, and with Prefect loaded a full
    collection walks some 370,000 objects: a third of a city's assessment went on it (issue
    13.4). Threads share the collector: it resumes when the last paused block ends, and only if
    it was on before the first."""
    global _pauses, _resume
    with _pause_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
