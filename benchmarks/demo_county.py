"""The demo county (莒县, 62 departments) for the CLI and portal benchmarks, with known passwords.

`bihuan demo` prints random passwords once; the benchmarks need to sign in, so after building the
county they give every demo account one known password (an Argon2 hash written straight into
the benchmark's own database, no first-login change).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "Bench-密码-2025!x"
OFFICE = "wangzr"  # 编办王主任
LEADER = "leader"
# the year the demo's loop runs in (its items, problem lists and board)
YEAR = 2023


def env(home: Path, **extra: str) -> dict[str, str]:
    """A bihuan subprocess's environment: its own home (var/), the checkout's config, offline
    Prefect in a private home, and the password of every demo account."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BIHUAN_"))}
    out.update(
        BIHUAN_HOME=str(home),
        BIHUAN_CONFIG_DIR=str(REPO / "config"),
        BIHUAN_PASSWORD=PASSWORD,
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    out.update(extra)
    return out


def build(workdir: Path) -> tuple[str, float]:
    """`bihuan demo --db workdir/demo.db` (home in workdir), then the known password for every
    account; returns the database URL and the seconds the demo took."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "demo.db"
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "bihuan"), "demo", "--db", str(path)],
        env=env(workdir),
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"bihuan demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    url = f"sqlite:///{path}"
    set_passwords(url)
    return url, seconds


def set_passwords(url: str, password: str = PASSWORD) -> None:
    from sqlalchemy import create_engine, text

    from bihuan.services.passwords import hash_password

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE useraccount SET password_hash = :h, must_change_password = :f "
                "WHERE password_hash != ''"
            ),
            {"h": hash_password(password), "f": False},
        )
    engine.dispose()
