"""How fast a command feels (issue 13.1): `bihuan --help` and listings on the demo database.

Every command runs as a subprocess exactly as a person types it (the `bihuan` console script,
signed in with `--as` and BIHUAN_PASSWORD, so the Argon2 check is included), five times; the
median counts. `python -X importtime` shows what `--help` and each listing import: the top-level
imports by cumulative time, and whether Prefect, the table classes (`models`), pandas, openpyxl
or jinja2 were loaded.

Goals: `bihuan --help` < 0.3 s, each listing < 0.6 s.

    python -m benchmarks.cli [--repeats 5] [--db sqlite:///var/demo.db]
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import demo_county

HELP_GOAL = 0.3
LISTING_GOAL = 0.6
# name -> arguments after `bihuan`; the demo's loop year holds items, findings and a board
LISTINGS: dict[str, list[str]] = {
    "departments": ["departments", "--json"],
    "board": ["board", "--year", str(demo_county.YEAR), "--json"],
    "findings": ["findings", "--year", str(demo_county.YEAR), "--json"],
    "rectifications": ["rectifications", "--year", str(demo_county.YEAR), "--json"],
    "scores": ["scores", "--year", str(demo_county.YEAR), "--phase", "year-end", "--json"],
    "notifications": ["notifications", "--limit", "50", "--json"],
}
# what `import bihuan.cli; main()` does, as the console script does it
_SCRIPT = "import sys; from bihuan.cli import main; sys.argv[0] = 'bihuan'; sys.exit(main())"
# the same, saying at exit which modules were loaded (-X importtime does not list a module that
# models/__init__.py loads through importlib on first use)
_PROFILED = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('LOADED', ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
    + _SCRIPT
)


def _time(cmd: list[str], env: dict[str, str], cwd: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr}")
    return times


_NOT_TABLES = {"models.base", "models.enums"}
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_profile(args: list[str], env: dict[str, str], cwd: Path, top: int = 8) -> dict[str, Any]:
    """`python -X importtime` of one command: total, top-level imports by cumulative time, and
    whether Prefect, SQLModel's table classes (`models`), pandas or openpyxl were imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROFILED, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        m = _LINE.match(line)
        if m:
            rows.append((m.group(4), int(m.group(2)), len(m.group(3))))
    top_level = [(name, cum) for name, cum, indent in rows if indent == 1]
    top_level.sort(key=lambda r: -r[1])
    names = {name for name, _c, _i in rows}
    for line in done.stderr.splitlines():
        if line.startswith("LOADED "):
            names |= set(line.split()[1:])
    return {
        "command": "bihuan " + " ".join(args),
        "total_import_seconds": round(sum(c for _n, c in top_level) / 1e6, 3),
        "modules": len(rows),
        "top": [{"module": n, "seconds": round(c / 1e6, 3)} for n, c in top_level[:top]],
        "imports_prefect": "prefect" in names,
        "imports_tables": "models" in names,
        # which table modules (models/__init__.py loads them lazily; 13 in all)
        "table_modules": sorted(
            n.split(".", 1)[1] for n in names if n.startswith("models.") and n not in _NOT_TABLES
        ),
        "imports_pandas": "pandas" in names,
        "imports_openpyxl": "openpyxl" in names,
        # the message templates (notifications.render): a listing only reads
        "imports_jinja2": "jinja2" in names,
    }


def measure(url: str, home: Path, repeats: int = 5) -> dict[str, Any]:
    env = demo_county.env(home)
    bihuan = str(demo_county.BIN / "bihuan")
    common = ["--db", url, "--as", demo_county.OFFICE]
    help_times = _time([bihuan, "--help"], env, home, repeats)
    listings = {}
    for name, args in LISTINGS.items():
        listings[name] = round(
            statistics.median(_time([bihuan, *args, *common], env, home, repeats)), 3
        )
    help_seconds = round(statistics.median(help_times), 3)
    # what a listing spends on checking the password (one Argon2 verification)
    from bihuan.services.passwords import hash_password, verify_password

    hashed = hash_password(demo_county.PASSWORD)
    started = time.perf_counter()
    verify_password(demo_county.PASSWORD, hashed)
    argon2_seconds = time.perf_counter() - started
    slowest = max(listings, key=listings.__getitem__)
    return {
        "repeats": repeats,
        "help_seconds": help_seconds,
        "listing_seconds": listings,
        "help_goal": HELP_GOAL,
        "listing_goal": LISTING_GOAL,
        "help_met": help_seconds < HELP_GOAL,
        "listings_met": all(v < LISTING_GOAL for v in listings.values()),
        "slowest_listing": slowest,
        "argon2_verify_seconds": round(argon2_seconds, 3),
        "importtime": {
            "help": import_profile(["--help"], env, home),
            **{name: import_profile(args + common, env, home) for name, args in LISTINGS.items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--db", help="a demo database (default: build one in a temporary folder)")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bihuan-bench-cli-"))
    if args.db:
        url = args.db
        demo_county.set_passwords(url)
    else:
        url, _seconds = demo_county.build(home)
    print(json.dumps({"cli": measure(url, home, args.repeats)}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
