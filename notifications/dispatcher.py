"""The dispatcher without Prefect: what `bihuan dispatch`, the demo and the Prefect task share.

`run_dispatch` loads the installation's channels, builds the run's clock and calls the use case
`bihuan.services.notifications.dispatch` (its guarantees are stated there). It starts no
Prefect server: `bihuan dispatch` calls it directly unless a real Prefect server is configured
(PREFECT_API_URL), so killing a dispatcher never leaves a temporary server behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bihuan.clock import utc_now
from bihuan.core.access import Actor
from bihuan.core.outbox import Clock, run_clock

if TYPE_CHECKING:
    from bihuan.app import AppContext
    from bihuan.services.notifications import DispatchReport, Sender


def dispatch_clock_for(
    as_of: date,
    *,
    real_now: Callable[[], datetime] = utc_now,
    elapsed: Callable[[], float] = time.monotonic,
) -> Clock:
    """The clock of a run for business day `as_of` (bihuan.core.outbox.run_clock): the real
    clock for today (and, clamped, for a future day), the simulated day's start plus the real
    time elapsed for a past day."""
    return run_clock(as_of, real_now, elapsed)


def run_dispatch(
    app: AppContext,
    actor: Actor,
    as_of: date,
    *,
    sender: Sender | None = None,
    clock: Clock | None = None,
) -> DispatchReport:
    """One dispatcher run of `app.jurisdiction` as `actor`, through the installation's
    channels unless `sender` is given."""
    from bihuan.services import notifications as service
    from bihuan.services.uow import UnitOfWork
    from notifications.channels import load_channels

    return service.dispatch(
        lambda: UnitOfWork(app),
        sender if sender is not None else load_channels(app.settings),
        clock or dispatch_clock_for(as_of),
        actor=actor,
        jurisdiction=app.jurisdiction,
    )


def ensure_channels_config(app: AppContext, actor: Actor) -> Path | None:
    """With no apprise config at the default place, write the demo one (every recipient tag of
    the jurisdiction to the local sink var/outbox/) and return its path; None when a config
    exists or one was configured."""
    from bihuan.services import notifications as service
    from bihuan.services.uow import UnitOfWork
    from notifications.channels import default_config_path, write_demo_config

    if app.settings.apprise_config:
        return None  # configured explicitly: a missing file is the user's to fix (clear error)
    path = default_config_path(app.settings)
    if path.exists():
        return None
    with UnitOfWork(app, readonly=True) as uow:
        tags = service.recipient_tags(uow, actor, app.jurisdiction)
    return write_demo_config(path, tags, app.settings.outbox_dir)


__all__ = ["dispatch_clock_for", "ensure_channels_config", "run_dispatch"]
