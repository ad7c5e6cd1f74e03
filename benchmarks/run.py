"""`python -m benchmarks.run --size county,city --db sqlite,postgresql`: run, write the results.

Writes benchmarks/results/latest.json (one object per size and backend) and BENCHMARKS.md (the
machine, then one table row per run, then the extra goals). Prefect runs in local mode with its
own temporary PREFECT_HOME; its start is timed separately and excluded from the cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "latest.json"
MARKDOWN = REPO / "BENCHMARKS.md"
STAGES = (
    "collect_mid_year", "assess_mid_year", "problem_lists", "track", "dispatch",
    "collect_year_end", "assess_year_end", "results", "recheck",
)  # fmt: skip


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    pg = "n/a"
    try:
        import psycopg

        from benchmarks.harness import PG_ADMIN_URL

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", "")) as conn:
            pg = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    except Exception:  # no PostgreSQL here: say so in the table
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    import prefect

    return {
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gb": round(mem, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg,
        "prefect": prefect.__version__,
    }


def _prepare_prefect(workdir: Path) -> None:
    # A private PREFECT_HOME: local mode's server database must not be shared with other runs.
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_markdown(info: dict[str, Any], runs: list[dict[str, Any]], extra: dict[str, Any],
                    notes: str = "") -> str:  # fmt: skip
    lines = [
        "# Benchmarks (性能基准)",
        "",
        "Produced by `make bench` (`python -m benchmarks.run`); raw numbers in "
        "`benchmarks/results/latest.json`. Method and goals: see the end of this file.",
        "",
        "## Machine",
        "",
        f"- commit `{info['commit']}`, {info['date']}",
        f"- CPU: {info['cpu']}; nproc {info['nproc']}; memory {info['memory_gb']} GB",
        f"- Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}, "
        f"Prefect {info['prefect']} (local mode)",
        "",
        "## Full cycle per size and backend (seconds; Prefect start excluded)",
        "",
        "| size | db | depts | indicators | open items | "
        + " | ".join(STAGES)
        + " | total | peak RSS MB | prefect share | baseline s | ratio | agrees |",
        "|" + "---|" * (5 + len(STAGES) + 6),
    ]
    for r in runs:
        lines.append(
            f"| {r['size']} | {r['backend']} | {r['departments']} | {r['indicators']} | "
            f"{r['open_items']} | "
            + " | ".join(_fmt(r["stages"].get(s)) for s in STAGES)
            + f" | {_fmt(r['total_seconds'])} | {_fmt(r['peak_rss_mb'], 0)} | "
            f"{_fmt(r['prefect_share'])} | {_fmt(r['baseline_seconds'])} | "
            f"{_fmt(r['ratio_to_baseline'])} | {'yes' if r['baseline_agrees'] else 'NO'} |"
        )
    if extra:
        lines += ["", "## Extra measurements", "", "```json", json.dumps(extra, indent=1), "```"]
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the bihuan cycle (see BENCHMARKS.md).")
    parser.add_argument("--size", default="county,city",
                        help="county, city, province, giant (comma list)")  # fmt: skip
    parser.add_argument("--counties", type=int, default=136,
                        help="province: how many counties (136 = Shandong)")  # fmt: skip
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql (comma list)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--extra", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the tracker sweep and the SMTP comparison")  # fmt: skip
    parser.add_argument("--tracker-items", type=int, default=1_000_000)
    parser.add_argument("--tracker-db-items", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, default=MARKDOWN)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bihuan-bench-"))
    _prepare_prefect(workdir)

    from benchmarks import extra as extras
    from benchmarks.harness import create_database, run_size

    def log(message: str) -> None:
        print(message, flush=True)

    runs: list[dict[str, Any]] = []
    sections: dict[str, Any] = {}  # province and giant (benchmarks/province.py)
    for size in [s.strip() for s in args.size.split(",") if s.strip()]:
        if size in ("province", "giant"):
            from benchmarks import province

            sections[size] = (
                province.run_province(counties=args.counties, seed=args.seed, log=log)
                if size == "province"
                else province.run_giant(seed=args.seed, log=log)
            )
            continue
        for backend in [b.strip() for b in args.db.split(",") if b.strip()]:
            runs.append(
                run_size(size, backend, workdir / f"{size}-{backend}", seed=args.seed, log=log)
            )
    extra: dict[str, Any] = {}
    if args.extra:
        log(f"tracker: plan_reminders over {args.tracker_items:,} items")
        extra["tracker_pure"] = extras.tracker_pure(args.tracker_items)
        log(f"  {extra['tracker_pure']}")
        db = create_database("sqlite", workdir, "tracker")
        try:
            extra["tracker_flow_path_sqlite"] = extras.tracker_flow_path(
                db.url, args.tracker_db_items
            )
        finally:
            db.drop()
        log(f"  {extra['tracker_flow_path_sqlite']}")
        db = create_database("sqlite", workdir, "dispatch")
        try:
            from benchmarks.synth import Size, load
            from bihuan.app import app_context
            from bihuan.db import get_engine

            load(get_engine(db.url), Size("dispatch", 6), policy=app_context(db.url).policy)
            extra["dispatch_smtp"] = extras.dispatch_comparison(db.url, workdir)
        finally:
            db.drop()
        log(f"  {extra['dispatch_smtp']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload: Any = {"runs": runs, **sections} if sections else runs
    args.out.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    info = machine()
    notes = ""
    goals = REPO / "benchmarks" / "GOALS.md"
    if goals.exists():
        notes = goals.read_text(encoding="utf-8")
    if sections:
        from benchmarks.province import render_markdown as province_markdown

        notes = province_markdown(sections.get("province"), sections.get("giant")) + "\n" + notes
    args.markdown.write_text(render_markdown(info, runs, extra, notes), encoding="utf-8")
    log(f"wrote {args.out} and {args.markdown}")
    return 0 if all(r["baseline_agrees"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
