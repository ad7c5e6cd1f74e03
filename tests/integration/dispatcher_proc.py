"""A dispatcher in a process of its own, for the fault tests (tests/integration/test_delivery_faults.py).

    python -m tests.integration.dispatcher_proc URL APPRISE_YML LOGIN [--lease-seconds S]
        [--busy-ms MS] [--patience S] [--connect S] [--read S]

Runs the use case `bihuan.services.notifications.dispatch` on the real clock against the given
database and channels, as user LOGIN of jurisdiction juxian, and prints its report as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("config", type=Path)
    parser.add_argument("login")
    parser.add_argument("--lease-seconds", type=float, default=None)
    parser.add_argument("--busy-ms", type=int, default=None)
    parser.add_argument("--patience", type=float, default=None)
    parser.add_argument("--connect", type=float, default=5)
    parser.add_argument("--read", type=float, default=10)
    args = parser.parse_args(argv)
    if args.busy_ms is not None:
        import bihuan.db

        # how long one statement waits for SQLite's write lock before "database is locked"
        bihuan.db.SQLITE_BUSY_TIMEOUT_MS = args.busy_ms

    from bihuan.clock import utc_now
    from bihuan.core.outbox import SendLimits, WritePatience
    from bihuan.services import identity, notifications
    from bihuan.services.uow import UnitOfWork
    from notifications.channels import Channels
    from tests.users import app_for

    app = app_for(args.url)
    with UnitOfWork(app, readonly=True) as uow:
        actor = identity.actor_for(uow, args.login)
    report = notifications.dispatch(
        lambda: UnitOfWork(app),
        Channels.from_file(args.config, rate_limit=0),
        utc_now,
        actor=actor,
        jurisdiction="juxian",
        max_attempts=5,
        backoff_minutes=[1],
        lease=timedelta(seconds=args.lease_seconds) if args.lease_seconds else None,
        limits=SendLimits(connect_timeout=args.connect, read_timeout=args.read),
        patience=WritePatience(total=args.patience) if args.patience is not None else None,
    )
    sys.stdout.write(json.dumps(report.model_dump(mode="json")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
