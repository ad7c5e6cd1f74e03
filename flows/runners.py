"""The task runner that fans scoring out per batch of departments: threads, or a Dask cluster.

`BIHUAN_TASK_RUNNER` chooses it: `threads` (default; a county or a city), `dask` (a local Dask
cluster started for the run: processes on this machine), or the address of an existing Dask
scheduler, `tcp://scheduler:8786` (a province on several machines). The flows' tasks take and
return plain picklable data, so the same code runs on any of them.
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from bihuan.errors import ConfigError

# Threads for a flow's tasks (scoring batches). Each task holds a database connection while it
# runs, and an engine pools 5 (+10 overflow): Prefect's own default (no limit) started all 200
# batches of a 10,000-department jurisdiction at once, and on a busy machine they timed out
# waiting for a connection. Scoring is CPU-bound Python, so more threads than this buy nothing.
THREADS = 4


def make_task_runner(
    spec: str, *, workers: int | None = None, env: dict[str, str] | None = None
) -> Any:
    """The runner `spec` names. `env` is set in a local cluster's worker processes: the
    settings this process was given on its command line (`--db`) that they cannot see
    otherwise (they read their own environment)."""
    spec = (spec or "threads").strip()
    if spec == "threads":
        return ThreadPoolTaskRunner(max_workers=workers or THREADS)
    if spec == "dask" or spec.startswith(("tcp://", "tls://")):
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:  # pragma: no cover - prefect-dask is a dependency
            raise ConfigError("BIHUAN_TASK_RUNNER=dask needs the prefect-dask package") from None
        if spec == "dask":
            return DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": workers or 2,
                    "threads_per_worker": 1,
                    "processes": True,
                    "dashboard_address": None,
                    **({"env": env} if env else {}),
                }
            )
        return DaskTaskRunner(address=spec)
    raise ConfigError(
        f"BIHUAN_TASK_RUNNER={spec!r}: use 'threads', 'dask' (a local cluster) or the address of "
        "a Dask scheduler such as tcp://scheduler:8786"
    )
