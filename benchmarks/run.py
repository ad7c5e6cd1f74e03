"""`python -m benchmarks.run --size county,city --db sqlite,postgresql`: run, write the results.

Measures the command line and the portal on the demo county (benchmarks/cli.py, web.py), the
cycle per size and backend (harness.py), the province and the giant jurisdiction when asked
(benchmarks/province.py), the tracker and dispatch (extra.py). Writes
benchmarks/results/latest.json (`machine`, `cli`, `county`, `city`, `province`, `giant`,
`dispatch`, `web`, `tracker`, and every cycle run under `runs`; a section not measured this time
keeps the previous run's figures, marked `not_measured_in_this_run`) and BENCHMARKS.md (every goal
of issues 13 and 12's speed, met or missed and why, then the tables). Prefect runs in local mode
with its own temporary PREFECT_HOME; its start is timed separately and excluded from the cycle.
"""

from __future__ import annotations

import argparse
import contextlib
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


def previous_runs(previous: dict[str, Any], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The previous run's cycle runs of the sizes and backends not run this time, marked."""
    done = {(r["size"], r["backend"]) for r in runs}
    before = previous.get("machine", {}).get("commit", "?")
    kept = []
    for r in previous.get("runs", []):
        if (r.get("size"), r.get("backend")) not in done:
            kept.append({**r, "not_measured_in_this_run": True,
                         "measured_at_commit": r.get("measured_at_commit", before)})  # fmt: skip
    return kept


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


SECTIONS = ("cli", "county", "province", "giant", "dispatch", "web", "test_suite")
NOT_MEASURED = "not measured in this run"


def summarise_size(runs: list[dict[str, Any]], size: str) -> dict[str, Any] | None:
    """latest.json's object for one size: the SQLite run's headline figures, each backend's."""
    keys = ("total_seconds", "prefect_share", "ratio_to_baseline", "stage_prefect_median_seconds",
            "stage_prefect_max_seconds", "prefect_start_seconds", "peak_rss_mb",
            "baseline_agrees", "departments")  # fmt: skip
    mine = {
        r["backend"]: {
            **{k: r.get(k) for k in keys},
            # the year-end report (HTML and PDF) written in the results stage
            "report_seconds": r.get("stage_details", {}).get("results", {}).get("report_seconds"),
        }
        for r in runs
        if r["size"] == size
    }
    if not mine:
        return None
    head = mine.get("sqlite") or next(iter(mine.values()))
    return {
        "total": head["total_seconds"],
        "prefect_share": head["prefect_share"],
        "ratio_to_baseline": head["ratio_to_baseline"],
        "stage_prefect_median_seconds": head["stage_prefect_median_seconds"],
        "stage_prefect_max_seconds": head["stage_prefect_max_seconds"],
        "backend": "sqlite" if "sqlite" in mine else next(iter(mine)),
        "by_backend": mine,
    }


def dispatch_figures(extra: dict[str, Any]) -> dict[str, Any] | None:
    """latest.json's `dispatch`: the 200-message comparison and the 20,000 digests."""
    smtp, many = extra.get("dispatch_smtp"), extra.get("dispatch_many")
    if not smtp and not many:
        return None
    out: dict[str, Any] = {}
    if smtp:
        out.update(
            messages=smtp["messages"], ratio_to_smtplib=smtp["ratio"],
            dispatcher_seconds=smtp["dispatcher_seconds"], smtplib_seconds=smtp["smtplib_seconds"],
            apprise_ratio=smtp["apprise_ratio"],
        )  # fmt: skip
    if many:
        out.update(
            many_messages=many["messages"], many_seconds=many["seconds"],
            many_received=many["received"], many_per_message_ms=many["per_message_ms"],
            many_channels_load_seconds=many["channels_load_seconds"],
        )  # fmt: skip
    return out


def with_previous(
    summary: dict[str, Any], previous: dict[str, Any], sections: tuple[str, ...] = SECTIONS
) -> dict[str, Any]:
    """Sections not measured this time keep the previous run's figures, marked as such."""
    before = previous.get("machine", {}).get("commit", "?")
    for key in sections:
        if summary.get(key) is None and previous.get(key) is not None:
            old = dict(previous[key])
            old.setdefault("not_measured_in_this_run", True)
            old.setdefault("measured_at_commit", before)
            summary[key] = old
    return summary


def _size(run: dict[str, Any]) -> str:
    if run.get("not_measured_in_this_run"):
        return f"{run['size']} (at `{run.get('measured_at_commit', '?')}`, {NOT_MEASURED})"
    return str(run["size"])


def _status(ok: bool | None, section: dict[str, Any] | None) -> str:
    if section is None or ok is None:
        return NOT_MEASURED
    if section.get("not_measured_in_this_run"):
        old = f"at `{section.get('measured_at_commit', '?')}`"
        return f"{'met' if ok else '**missed**'} ({NOT_MEASURED}; {old})"
    return "met" if ok else "**missed**"


def _needless(cli: dict[str, Any]) -> str:
    """Which listings import Prefect, the message templates (jinja2) or pandas/openpyxl."""
    found = []
    for name, prof in cli.get("importtime", {}).items():
        extra = [what for key, what in (("imports_prefect", "Prefect"), ("imports_jinja2", "jinja2"),
                                        ("imports_pandas", "pandas"),
                                        ("imports_openpyxl", "openpyxl")) if prof.get(key)]  # fmt: skip
        if extra and name != "help":
            found.append(f"`{name}` imports {' and '.join(extra)}")
    return ("; needlessly: " + ", ".join(found)) if found else ""


def goals(summary: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(issue, goal, status, measured and why) for every goal of issues 13 and 12 (speed)."""
    rows: list[tuple[str, str, str, str]] = []
    cli, county = summary.get("cli"), summary.get("county")
    if cli:
        help_imports = cli.get("importtime", {}).get("help", {})
        listing = cli.get("importtime", {}).get("departments", {})
        top = ", ".join(f"`{t['module']}` {t['seconds']} s" for t in listing.get("top", [])[:3])
        listings = cli["listing_seconds"]
        slowest = max(listings, key=listings.__getitem__)
        rows.append(("13.1", "`bihuan --help` < 0.3 s", _status(cli["help_seconds"] < 0.3, cli),
                     f"{cli['help_seconds']} s (median of {cli['repeats']}); imports "
                     f"{help_imports.get('total_import_seconds')} s of {help_imports.get('modules')} "
                     f"modules, no Prefect: {not help_imports.get('imports_prefect')}, no tables: "
                     f"{not help_imports.get('imports_tables')}; the rest is starting Python and "
                     "the console script"))  # fmt: skip
        rows.append(("13.1", "listings on the demo database < 0.6 s",
                     _status(all(v < 0.6 for v in listings.values()), cli),
                     ", ".join(f"{k} {v} s" for k, v in listings.items())
                     + f" (slowest: {slowest}). `departments --json` imports "
                     f"{listing.get('total_import_seconds')} s ({listing.get('modules')} modules; "
                     f"top: {top}); Prefect imported: {listing.get('imports_prefect')}; table modules "
                     f"loaded: {len(listing.get('table_modules', [])) or '?'} of 13 "
                     f"({', '.join(listing.get('table_modules', []))}); "
                     f"the sign-in's Argon2 check {cli.get('argon2_verify_seconds')} s. What is left "
                     "is Python importing SQLAlchemy, SQLModel, pydantic, Typer and Rich (about "
                     "0.4 s of bytecode loading and class construction) plus the Argon2 check, "
                     "which stays at argon2-cffi's RFC 9106 parameters"
                     + _needless(cli)))  # fmt: skip
    else:
        rows += [("13.1", "`bihuan --help` < 0.3 s", NOT_MEASURED, ""),
                 ("13.1", "listings on the demo database < 0.6 s", NOT_MEASURED, "")]  # fmt: skip
    if county:
        med, worst = (
            county.get("stage_prefect_median_seconds"),
            county.get("stage_prefect_max_seconds"),
        )
        rows.append(("13.2", "a county stage's Prefect overhead ≤ 0.3 s",
                     _status(med is not None and med <= 0.3, county),
                     f"median {med} s, max {worst} s over the nine stages (wall time minus our "
                     "own functions; in-process runs without the flow heartbeat, as the CLI "
                     f"runs them); Prefect share of the cycle {county['prefect_share']}"))  # fmt: skip
        rows.append(("13.2", "the county's whole cycle < 5 s excluding Prefect's start",
                     _status(county["total"] < 5, county),
                     f"{county['total']} s on {county['backend']} (of which writing the "
                     f"year-end report, HTML and PDF: "
                     f"{county['by_backend'][county['backend']].get('report_seconds')} s)"
                     + "".join(f"; {b} {v['total_seconds']} s" for b, v in
                               county["by_backend"].items() if b != county["backend"])))  # fmt: skip
        rows.append(("13.4", "data work within 3× the plain-SQL baseline",
                     _status(county["ratio_to_baseline"] <= 3, county),
                     f"{county['ratio_to_baseline']}× at county"
                     + "".join(f"; {b} {v['ratio_to_baseline']}×" for b, v in
                               county["by_backend"].items() if b != county["backend"])
                     + (f"; city {summary['city']['ratio_to_baseline']}×" if summary.get("city")
                        else "")
                     + "; baseline agrees: "
                     + str(all(v["baseline_agrees"] for v in county["by_backend"].values()))))  # fmt: skip
    else:
        rows += [("13.2", "a county stage's Prefect overhead ≤ 0.3 s", NOT_MEASURED, ""),
                 ("13.2", "the county's whole cycle < 5 s excluding Prefect's start",
                  NOT_MEASURED, ""),
                 ("13.4", "data work within 3× the plain-SQL baseline", NOT_MEASURED, "")]  # fmt: skip
    suite = summary.get("test_suite")
    if suite:
        rows.append(("13.2", "`make test` under 5 minutes",
                     _status(suite["seconds"] < 300 and suite["failed"] == 0, suite),
                     f"{suite['seconds']} s: {suite['passed']} passed, {suite['skipped']} skipped, "
                     f"{suite['failed']} failed (`pytest`, every optional package installed; "
                     "the flow tests run real Prefect flows, the server tests a loopback Prefect "
                     "server, the browser tests chromium, one after another on 2 cores)"))  # fmt: skip
    else:
        rows.append(("13.2", "`make test` under 5 minutes", NOT_MEASURED,
                     "opt-in: `python -m benchmarks.run --suite` times the test suite"))  # fmt: skip
    prov, giant = summary.get("province"), summary.get("giant")
    if prov and prov.get("total_seconds") is not None:
        rows.append(("13.3", "the province's year < 10 minutes",
                     _status(prov["total_seconds"] < 600, prov),
                     f"{prov['total_seconds']} s, {prov.get('jurisdictions')} jurisdictions, "
                     f"{prov.get('departments')} departments, workers {prov.get('workers')}"))  # fmt: skip
        rss = prov.get("peak_rss_mb")
        rows.append(("13.3", "every province process < 1 GB",
                     _status(rss is not None and rss < 1024, prov), f"peak RSS {rss} MB"))  # fmt: skip
    else:
        rows += [("13.3", "the province's year < 10 minutes", NOT_MEASURED,
                  "opt-in: `make bench SIZE=province`"),
                 ("13.3", "every province process < 1 GB", NOT_MEASURED,
                  "opt-in: `make bench SIZE=province`")]  # fmt: skip
    if giant and giant.get("total_seconds") is not None:
        rows.append(("13.3", "a 10,000-department jurisdiction < 5 minutes and < 2 GB",
                     _status(giant["total_seconds"] < 300 and giant["peak_rss_mb"] < 2048, giant),
                     f"{giant['total_seconds']} s, peak RSS {giant['peak_rss_mb']} MB"))  # fmt: skip
        refused = giant.get("refused_events")
        rows.append(("13.3", 'no "Refusing to publish event" (small task parameters)',
                     _status(None if refused is None else refused == 0, giant),
                     f"{refused} refused"))  # fmt: skip
    else:
        rows += [("13.3", "a 10,000-department jurisdiction < 5 minutes and < 2 GB", NOT_MEASURED,
                  "opt-in: `make bench SIZE=giant`"),
                 ("13.3", 'no "Refusing to publish event" (small task parameters)', NOT_MEASURED,
                  "opt-in: `make bench SIZE=giant`")]  # fmt: skip
    disp = summary.get("dispatch")
    if disp and disp.get("ratio_to_smtplib") is not None:
        rows.append(("13.5", "dispatch ≤ 1.2× a bare smtplib loop on 200 messages",
                     _status(disp["ratio_to_smtplib"] <= 1.2, disp),
                     f"{disp['ratio_to_smtplib']}× ({disp['dispatcher_seconds']} s vs "
                     f"{disp['smtplib_seconds']} s; best of interleaved runs; apprise alone "
                     f"{disp['apprise_ratio']}×)"))  # fmt: skip
    else:
        rows.append(("13.5", "dispatch ≤ 1.2× a bare smtplib loop on 200 messages",
                     NOT_MEASURED, ""))  # fmt: skip
    if disp and disp.get("many_seconds") is not None:
        rows.append(("13.5", "20,000 digests to loopback SMTP < 60 s",
                     _status(disp["many_seconds"] < 60
                             and disp["many_received"] == disp["many_messages"], disp),
                     f"{disp['many_seconds']} s for {disp['many_messages']} "
                     f"({disp['many_per_message_ms']} ms each, {disp['many_received']} received); "
                     f"loading the 20,000-URL apprise config {disp['many_channels_load_seconds']} s "
                     "more, once per run"))  # fmt: skip
    else:
        rows.append(("13.5", "20,000 digests to loopback SMTP < 60 s", NOT_MEASURED, ""))
    web = summary.get("web")
    for what, label, goal in (("item_list", "department item list", 150),
                              ("board", "board", 150),
                              ("upload", "report fixed with a 1 MB upload", 300)):  # fmt: skip
        name = f"portal p95 < {goal} ms, {label}, 50 users"
        if not web:
            rows.append(("12", name, NOT_MEASURED, ""))
            continue
        w = web[what]
        solo = web.get("solo_median_ms", {})
        rate = web["requests"] / web["load_seconds"] if web.get("load_seconds") else None
        why = (f"p95 {w['p95_ms']} ms, p50 {w['p50_ms']} ms over {w['requests']} requests "
               f"with {web['users']} users at once, each asking again as soon as answered; one "
               f"bihuan web process served {_fmt(rate, 1)} requests/s, so a request waits behind "
               f"the others (alone: {solo.get(what)} ms")  # fmt: skip
        if what == "upload" and solo.get("first_upload") is not None:
            why += f"; the server's first upload {solo['first_upload']} ms"
        rows.append(("12", name, _status(w["p95_ms"] is not None and w["p95_ms"] < goal, web),
                     why + ")"))  # fmt: skip
    return rows


def render_markdown(info: dict[str, Any], runs: list[dict[str, Any]], extra: dict[str, Any],
                    notes: str = "", summary: dict[str, Any] | None = None) -> str:  # fmt: skip
    summary = summary or {}
    lines = [
        "# Benchmarks (性能基准)",
        "",
        "Produced by `make bench` (`python -m benchmarks.run`); raw numbers in "
        "`benchmarks/results/latest.json`. Method: see the end of this file.",
        "",
        "## Machine",
        "",
        f"- commit `{info['commit']}`, {info['date']}",
        f"- CPU: {info['cpu']}; nproc {info['nproc']}; memory {info['memory_gb']} GB",
        f"- Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}, "
        f"Prefect {info['prefect']} (local mode)",
    ]
    if info.get("load"):
        lines.append(f"- load average when the run started: {info['load']} (a shared machine)")
    lines += ["", "## Goals (issues 13 and 12), met or missed", "",
              "| issue | goal | status | measured, and why |", "|---|---|---|---|"]  # fmt: skip
    for issue, goal, status, why in goals(summary):
        lines.append(f"| {issue} | {goal} | {status} | {why} |")
    if runs:
        lines += [
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
            f"| {_size(r)} | {r['backend']} | {r['departments']} | {r['indicators']} | "
            f"{r['open_items']} | "
            + " | ".join(_fmt(r["stages"].get(s)) for s in STAGES)
            + f" | {_fmt(r['total_seconds'])} | {_fmt(r['peak_rss_mb'], 0)} | "
            f"{_fmt(r['prefect_share'])} | {_fmt(r['baseline_seconds'])} | "
            f"{_fmt(r['ratio_to_baseline'])} | {'yes' if r['baseline_agrees'] else 'NO'} |"
        )
    if runs:
        lines += ["", "Prefect's part of each stage (wall time minus our own functions), seconds:",
                  "", "| size | db | " + " | ".join(STAGES) + " |",
                  "|" + "---|" * (2 + len(STAGES))]  # fmt: skip
        for r in runs:
            details = r.get("stage_details", {})
            lines.append(
                f"| {_size(r)} | {r['backend']} | "
                + " | ".join(_fmt(details.get(s, {}).get("prefect_seconds")) for s in STAGES)
                + " |"
            )
    province_md = _province_markdown(summary)
    if province_md:
        lines += ["", province_md.rstrip()]
    cli = summary.get("cli")
    if cli and not cli.get("not_measured_in_this_run"):
        lines += ["", "## Command line (issue 13.1)", "",
                  f"Median of {cli['repeats']} runs of each command as a subprocess, on the demo "
                  f"database, signed in (`--as wangzr`, BIHUAN_PASSWORD): `--help` "
                  f"{cli['help_seconds']} s; "
                  + ", ".join(f"`{k}` {v} s" for k, v in cli["listing_seconds"].items()) + ".",
                  "", "`python -X importtime`, top-level imports by cumulative time:", ""]  # fmt: skip
        for prof in cli.get("importtime", {}).values():
            top = ", ".join(f"`{t['module']}` {t['seconds']}" for t in prof["top"][:6])
            lines.append(
                f"- `{prof['command'].split(' --db')[0]}`: {prof['total_import_seconds']} s, "
                f"{prof['modules']} modules (Prefect: {prof['imports_prefect']}, table classes: "
                f"{prof['imports_tables']}, pandas: {prof['imports_pandas']}, openpyxl: "
                f"{prof['imports_openpyxl']}, jinja2: {prof.get('imports_jinja2')}); {top}"
            )
    web = summary.get("web")
    if web and not web.get("not_measured_in_this_run"):
        lines += ["", "## Portal (issue 12, speed)", "",
                  f"`bihuan web` on the demo county (SQLite), {web['users']} users over loopback "
                  f"({web['department_users']} department contacts, {web['reader_users']} "
                  f"office/section/leader/auditor sessions), {web['rounds']} rounds each, "
                  f"{web['requests']} requests in {web['load_seconds']} s, {web['errors']} errors.",
                  "", "| request | requests | p50 ms | p95 ms | max ms | alone ms | goal p95 ms |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for what in ("item_list", "board", "upload", "sign_in"):
            w = web[what]
            lines.append(
                f"| {what} | {w['requests']} | {_fmt(w['p50_ms'])} | {_fmt(w['p95_ms'])} | "
                f"{_fmt(w['max_ms'])} | {_fmt(web.get('solo_median_ms', {}).get(what))} | "
                f"{web['goals_ms'].get(what, '—')} |"
            )
    if extra:
        lines += ["", "## Extra measurements", "", "```json", json.dumps(extra, indent=1), "```"]
    if notes:
        lines += ["", notes.rstrip()]
    return "\n".join(lines) + "\n"


def _province_markdown(summary: dict[str, Any]) -> str:
    """The province helper's own section (benchmarks/province.py), for what was run this time."""
    prov = summary.get("province")
    giant = summary.get("giant")
    prov = None if not prov or prov.get("not_measured_in_this_run") else prov
    giant = None if not giant or giant.get("not_measured_in_this_run") else giant
    if not prov and not giant:
        return ""
    try:
        from benchmarks import province as module  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return ""
    render = getattr(module, "render_markdown", None)
    return str(render(prov, giant)) if render else ""


def _run_province(
    sizes: list[str], seed: int, log: Any, counties: int = 136, workers: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    """`province` and `giant` through benchmarks/province.py, when asked for and present."""
    out: dict[str, Any] = {}
    wanted = [s for s in ("province", "giant") if s in sizes]
    if not wanted:
        return out
    try:
        from benchmarks import province as module  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        log("benchmarks/province.py is not here: province and giant not measured")
        return out
    for size in wanted:
        fn = getattr(module, f"run_{size}", None)
        if fn is None:
            log(f"benchmarks.province has no run_{size}: not measured")
            continue
        out[size] = (
            fn(seed=seed, log=log, counties=counties, workers=workers)
            if size == "province"
            else fn(seed=seed, log=log)
        )
    return out


def time_test_suite(log: Any) -> dict[str, Any]:
    """`make test`'s command (`pytest`), timed: seconds and the counts of its summary line."""
    import re

    log("test suite: pytest (as `make test`)")
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pytest"), "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    seconds = round(time.perf_counter() - started, 1)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|skipped|failed|error)", tail)}
    result = {
        "seconds": seconds, "passed": counts.get("passed", 0), "skipped": counts.get("skipped", 0),
        "failed": counts.get("failed", 0) + counts.get("error", 0) + (done.returncode != 0),
        "summary": tail,
    }  # fmt: skip
    log(f"  {result}")
    return result


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the bihuan cycle (see BENCHMARKS.md).")
    parser.add_argument("--size", default="county,city",
                        help="county, city, province, giant (comma list)")  # fmt: skip
    parser.add_argument("--counties", type=int, default=136,
                        help="province: how many counties (136 = Shandong)")  # fmt: skip
    parser.add_argument("--suite", action="store_true",
                        help="also time the test suite (`make test`), about 15 minutes")  # fmt: skip
    parser.add_argument("--workers", default="1,2",
                        help="province: the rounds, by number of workers (comma list)")  # fmt: skip
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql (comma list)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--extra", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the tracker sweep and the SMTP comparisons")  # fmt: skip
    parser.add_argument("--cli", action=argparse.BooleanOptionalAction, default=True,
                        help="time the command line on the demo database")  # fmt: skip
    parser.add_argument("--web", action=argparse.BooleanOptionalAction, default=True,
                        help="load the portal with 50 users on the demo database")  # fmt: skip
    parser.add_argument("--tracker-items", type=int, default=1_000_000)
    parser.add_argument("--tracker-db-items", type=int, default=100_000)
    parser.add_argument("--dispatch-many", type=int, default=20_000, help="0 to skip")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--markdown", type=Path, default=MARKDOWN)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bihuan-bench-"))
    load_at_start = _load()
    _prepare_prefect(workdir)

    from benchmarks import extra as extras
    from benchmarks.harness import create_database, run_size

    def log(message: str) -> None:
        print(message, flush=True)

    previous: dict[str, Any] = {}
    if args.out.exists():
        with contextlib.suppress(ValueError):
            loaded = json.loads(args.out.read_text(encoding="utf-8"))
            previous = loaded if isinstance(loaded, dict) else {}
    sizes = [s.strip() for s in args.size.split(",") if s.strip()]
    summary: dict[str, Any] = {}
    if args.cli or args.web:
        from benchmarks import cli as cli_bench
        from benchmarks import demo_county
        from benchmarks import web as web_bench

        log("demo county: bihuan demo")
        demo_url, demo_seconds = demo_county.build(workdir / "demo")
        log(f"  built in {demo_seconds:.0f} s")
        if args.cli:
            summary["cli"] = cli_bench.measure(demo_url, workdir / "demo")
            log(f"cli: --help {summary['cli']['help_seconds']} s, listings "
                f"{summary['cli']['listing_seconds']}")  # fmt: skip
        if args.web:
            summary["web"] = web_bench.measure(demo_url, workdir / "demo")
            log("web: p95 ms " + ", ".join(
                f"{k} {summary['web'][k]['p95_ms']}" for k in ("item_list", "board", "upload")))  # fmt: skip
    if args.suite:
        summary["test_suite"] = time_test_suite(log)
    runs: list[dict[str, Any]] = []
    for size in [s for s in sizes if s in ("county", "city")]:
        for backend in [b.strip() for b in args.db.split(",") if b.strip()]:
            runs.append(
                run_size(size, backend, workdir / f"{size}-{backend}", seed=args.seed, log=log)
            )
    summary["county"] = summarise_size(runs, "county")
    summary["city"] = summarise_size(runs, "city")
    workers = tuple(int(w) for w in args.workers.split(",") if w.strip())
    summary.update(_run_province(sizes, args.seed, log, args.counties, workers))
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
        from benchmarks.synth import Size, load
        from bihuan.app import app_context
        from bihuan.db import get_engine

        for key, fn, n in (
            ("dispatch_smtp", extras.dispatch_comparison, 200),
            ("dispatch_many", extras.dispatch_many, args.dispatch_many),
        ):
            if not n:
                continue
            log(f"dispatch: {key} ({n:,} messages)")
            db = create_database("sqlite", workdir, key)
            try:
                load(get_engine(db.url), Size("dispatch", 6), policy=app_context(db.url).policy)
                extra[key] = fn(db.url, workdir, n)
            finally:
                db.drop()
            log(f"  {extra[key]}")
    summary["dispatch"] = dispatch_figures(extra)
    info = machine()
    info["load"] = load_at_start
    summary = with_previous(summary, previous, (*SECTIONS, "city"))
    summary = {key: summary.get(key) for key in (*SECTIONS, "city")}
    tracker = {k: v for k, v in extra.items() if k.startswith("tracker")} or None
    if tracker is None and previous.get("tracker"):
        tracker = {**previous["tracker"], "not_measured_in_this_run": True}
        extra = {**tracker, **extra}
    fresh = len(runs)
    runs = runs + previous_runs(previous, runs)
    out = {"machine": info, **summary, "tracker": tracker, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=str) + "\n", encoding="utf-8")
    notes = ""
    goals_md = REPO / "benchmarks" / "GOALS.md"
    if goals_md.exists():
        notes = goals_md.read_text(encoding="utf-8")
    args.markdown.write_text(render_markdown(info, runs, extra, notes, summary), encoding="utf-8")
    log(f"wrote {args.out} and {args.markdown}")
    return 0 if all(r["baseline_agrees"] for r in runs[:fresh]) else 1


if __name__ == "__main__":
    sys.exit(main())
