"""The demo county workbook: format, shape, reproducibility, two years, import, `bihuan demo`."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bihuan.demo.generator import DemoSummary, build_demo_workbook, generate_rows
from bihuan.ingest.schema import SHEETS

REPO = Path(__file__).resolve().parents[2]
BIHUAN = str(Path(sys.executable).parent / "bihuan")
KEYS = {s.zh: [c.key for c in s.columns] for s in SHEETS}


def read(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every sheet as a list of dicts keyed by the schema's English keys (dates as dates)."""
    wb = load_workbook(path, read_only=True)
    out: dict[str, list[dict[str, Any]]] = {}
    for sheet in SHEETS:
        keys = KEYS[sheet.zh]
        rows = list(wb[sheet.zh].iter_rows(values_only=True))
        out[sheet.key] = [
            {
                k: v.date() if isinstance(v, datetime) else v
                for k, v in zip(keys, (*r, *([None] * (len(keys) - len(r)))), strict=True)
            }
            for r in rows[1:]
        ]
    wb.close()
    return out


def generated(year: int, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
    """The rows the generator writes, shaped like `read` (reading 30,000 rows takes seconds)."""
    _, rows, _ = generate_rows(year, **kwargs)
    return {s.key: [{k: r.get(k) for k in KEYS[s.zh]} for r in rows[s.key]] for s in SHEETS}


def xlsx_parts(path: Path) -> dict[str, bytes]:
    """The workbook's zip members except its properties, which carry the write time."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}


@pytest.fixture(scope="module")
def y2022(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, dict[str, Any]]:
    path = tmp_path_factory.mktemp("demo") / "juxian-2022.xlsx"
    summary = build_demo_workbook(path, 2022)
    return summary, generated(2022)


@pytest.fixture(scope="module")
def y2023(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSummary, dict[str, Any]]:
    path = tmp_path_factory.mktemp("demo") / "juxian-2023.xlsx"
    summary = build_demo_workbook(path, 2023)
    return summary, generated(2023)


def test_every_sheet_and_header_of_the_schema_in_order(y2022: Any) -> None:
    summary, _ = y2022
    wb = load_workbook(summary.path, read_only=True)
    assert wb.sheetnames == [s.zh for s in SHEETS]
    for sheet in SHEETS:
        header = next(wb[sheet.zh].iter_rows(max_row=1, values_only=True))
        assert list(header) == [c.zh for c in sheet.columns], sheet.key
    wb.close()
    assert set(summary.counts) == {s.key for s in SHEETS}
    assert all(summary.counts[s.key] > 0 for s in SHEETS)


def test_departments_sections_and_key_tasks(y2022: Any) -> None:
    summary, rows = y2022
    depts = rows["departments"]
    assert len(depts) == summary.departments == 62
    cats = Counter(d["category"] for d in depts)
    assert cats == {"经济部门": 26, "非经济部门": 36}
    assert len({d["name"] for d in depts}) == 62
    assert {d["team"] for d in depts if d["category"] == "经济部门"} == {"T1"}
    assert {d["team"] for d in depts if d["category"] == "非经济部门"} == {"T2"}
    d01 = next(d for d in depts if d["code"] == "D01")
    assert d01["contact_email"] == "d01@juxian.example.cn" and d01["notify_tags"] == "d01"
    assert d01["head_name"] != d01["contact_name"]

    per_dept = Counter(s["department"] for s in rows["sections"])
    assert set(per_dept) == {d["code"] for d in depts}
    assert all(3 <= n <= 7 for n in per_dept.values())
    assert 4.5 <= sum(per_dept.values()) / 62 <= 5.5

    tasks = Counter((i["department"], i["section"]) for i in rows["indicators"])
    assert len(tasks) == len(rows["sections"])
    odd = {k: n for k, n in tasks.items() if n != 13}
    assert odd == {summary.twelve_task_section: 12}

    kinds = Counter(i["kind"] for i in rows["indicators"])
    assert kinds["定性"] > 1000 and kinds["定量"] > 1000
    quant = [i for i in rows["indicators"] if i["kind"] == "定量"]
    assert all(i["unit"] and i["direction"] in ("越高越好", "越低越好") for i in quant)
    assert Counter(i["direction"] for i in quant)["越低越好"] > 100
    assert 0.15 < sum(i["target"] is not None for i in quant) / len(quant) < 0.45
    assert len({i["code"] for i in rows["indicators"]}) == len(rows["indicators"])


def test_history_is_three_prior_years_of_every_quantitative_indicator(y2022: Any) -> None:
    _, rows = y2022
    quant = {i["code"] for i in rows["indicators"] if i["kind"] == "定量"}
    years = defaultdict(set)
    for h in rows["indicator_history"]:
        years[h["indicator"]].add(h["year"])
    assert set(years) == quant
    assert all(y == {2019, 2020, 2021} for y in years.values())


def test_planted_facts_of_a_year(y2022: Any) -> None:
    summary, rows = y2022
    codes = {d["code"] for d in rows["departments"]}
    ind_dept = {i["code"]: i["department"] for i in rows["indicators"]}

    # 2–3 departments miss the mid-year submission entirely; everyone else submits everything.
    assert 2 <= len(summary.missing_mid_year) <= 3
    submitted = defaultdict(set)
    for s in rows["submissions"]:
        submitted[s["phase"]].add(ind_dept[s["indicator"]])
        window = (6, 1, 6, 30) if s["phase"] == "年中" else (12, 1, 12, 31)
        day = s["submitted_on"]
        assert date(2022, window[0], window[1]) <= day <= date(2022, window[2], window[3])
    assert submitted["年底"] == codes
    assert submitted["年中"] == codes - set(summary.missing_mid_year)
    levels = Counter(s["level"] for s in rows["submissions"] if s["level"])
    assert levels["未制定"] > 0 and levels["已制定并落实"] > levels["未制定"]

    # The five staffing checks, both phases, with the typical problems.
    assert len(rows["staffing_checks"]) == 62 * 5 * 2
    problems = Counter(c["problem_type"] for c in rows["staffing_checks"] if c["problems"])
    for typical in (
        "科室职责交叉",
        "已批复科室未实际运行",
        "用编进人计划执行不严格",
        "入编出编不及时",
    ):
        assert problems[typical] > 0, typical

    # Towns rate every department in both phases; peers rate 15 others, never themselves.
    assert len(rows["towns"]) == 20
    assert len(rows["town_ratings"]) == 20 * 62 * 2
    assert all(p["rater"] != p["ratee"] for p in rows["peer_ratings"])
    per_rater = Counter((p["phase"], p["rater"]) for p in rows["peer_ratings"])
    assert set(per_rater.values()) == {15}
    assert 2000 < len(rows["public_ratings"]) < 6000

    # Central tasks: a lead and 2–4 cooperating departments each, results for both phases.
    assert len(rows["central_tasks"]) == 4
    roles = defaultdict(Counter)
    for link in rows["central_task_links"]:
        roles[link["task"]][link["role"]] += 1
    assert all(r["牵头部门"] == 1 and 2 <= r["配合单位"] <= 4 for r in roles.values())
    assert len(rows["central_task_results"]) == 2 * len(rows["central_task_links"])
    assert any(r["shortfall"] for r in rows["central_task_results"])

    # Commissioners in both teams, some with a former department (回避).
    assert len(rows["commissioners"]) == 10
    assert any(c["former_department"] for c in rows["commissioners"])

    # About 600 hotline cases, some closed late.
    cases = rows["hotline_cases"]
    assert len(cases) == 600
    late = [c for c in cases if c["closed_on"] is None or c["closed_on"] > c["due_on"]]
    assert 0.03 < len(late) / len(cases) < 0.3


def test_the_workbook_holds_exactly_the_generated_rows(tmp_path: Path) -> None:
    summary = build_demo_workbook(tmp_path / "small.xlsx", 2022, departments=8)
    assert read(summary.path) == generated(2022, departments=8)


def test_same_seed_same_bytes_other_seed_other_county(tmp_path: Path, y2022: Any) -> None:
    summary, rows = y2022
    again = build_demo_workbook(tmp_path / "again.xlsx", 2022)
    assert xlsx_parts(again.path) == xlsx_parts(summary.path)
    assert again.counts == summary.counts
    other = generated(2022, seed=7)
    assert other["indicators"] != rows["indicators"]
    assert other["departments"] != rows["departments"]


def test_2023_keeps_the_county_and_continues_2022(y2022: Any, y2023: Any) -> None:
    s22, r22 = y2022
    s23, r23 = y2023
    for key in ("teams", "departments", "sections", "towns", "commissioners"):
        assert r23[key] == r22[key], key
    assert [i["code"] for i in r23["indicators"]] == [i["code"] for i in r22["indicators"]]
    assert s23.poor_departments == s22.poor_departments
    assert 1 <= len(s22.poor_departments) <= 2
    assert s23.quality == s22.quality

    # 2023's history (2020–2022) carries exactly 2022's year-end submissions and history.
    year_end_2022 = {
        s["indicator"]: s["value"]
        for s in r22["submissions"]
        if s["phase"] == "年底" and s["value"] is not None
    }
    hist_2023 = {(h["indicator"], h["year"]): h["value"] for h in r23["indicator_history"]}
    assert {k: v for (k, y), v in hist_2023.items() if y == 2022} == year_end_2022
    for h in r22["indicator_history"]:
        if h["year"] >= 2020:
            assert hist_2023[(h["indicator"], h["year"])] == h["value"]

    # The year's events differ: not a copy of last year.
    assert r23["public_ratings"] != r22["public_ratings"]


def _ledger_score(rows: dict[str, Any], year: int) -> dict[str, float]:
    """A crude year-end ledger score (the policy's rules, roughly) to check the planted order."""
    levels = {"已制定并落实": 100, "已制定未落实": 60, "未制定": 0}
    ind = {i["code"]: i for i in rows["indicators"]}
    prev = {h["indicator"]: h["value"] for h in rows["indicator_history"] if h["year"] == year - 1}
    scores: dict[str, list[float]] = defaultdict(list)
    for s in rows["submissions"]:
        if s["phase"] != "年底":
            continue
        i = ind[s["indicator"]]
        if s["level"]:
            score = levels[s["level"]]
        else:
            change = (
                (s["value"] - prev[i["code"]]) / prev[i["code"]] * 100 if prev[i["code"]] else 0
            )
            if i["direction"] == "越低越好":
                change = -change
            score = max(0.0, min(100.0, 80 + 2 * change))
        scores[i["department"]].append(score)
    return {d: sum(v) / len(v) for d, v in scores.items()}


def test_poor_departments_are_at_the_bottom_in_both_years(y2022: Any, y2023: Any) -> None:
    for summary, rows in (y2022, y2023):
        score = _ledger_score(rows, summary.year)
        bottom = sorted(score, key=score.__getitem__)[:10]
        assert set(summary.poor_departments) <= set(bottom), (summary.year, bottom)
        town = defaultdict(list)
        for r in rows["town_ratings"]:
            town[r["department"]].append(r["overall"])
        mean = {d: sum(v) / len(v) for d, v in town.items()}
        ranked = sorted(mean, key=mean.__getitem__)
        assert set(summary.poor_departments) <= set(ranked[:10])


def test_small_and_large_counties(tmp_path: Path) -> None:
    small = build_demo_workbook(tmp_path / "s.xlsx", 2022, departments=8)
    assert small.departments == 8
    rows = read(small.path)
    assert {d["category"] for d in rows["departments"]} == {"经济部门", "非经济部门"}
    with pytest.raises(ValueError):
        build_demo_workbook(tmp_path / "x.xlsx", 2022, departments=3)


def test_imports_cleanly_and_reimport_changes_nothing(db_url: str, tmp_path: Path) -> None:
    from bihuan.ingest.load import import_path

    summary = build_demo_workbook(tmp_path / "juxian-2022.xlsx", 2022, departments=14)
    kwargs: dict[str, Any] = dict(
        year=2022, jurisdiction="juxian", actor="demo", jurisdiction_name="莒县"
    )
    first = import_path(db_url, summary.path, **kwargs)
    assert not first.errors
    assert len(first.warnings) == 1
    warning = first.warnings[0]
    assert warning.sheet == "履职台账"
    assert "12" in warning.message and "/".join(summary.twelve_task_section) in warning.message
    for key, n in summary.counts.items():
        assert first.counts[key]["inserted"] == n, key

    again = import_path(db_url, summary.path, **kwargs)
    assert again.changed == 0
    assert all(c["unchanged"] == summary.counts[k] for k, c in again.counts.items())


def test_bihuan_demo_command(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    # the installation's channels: the demo must never read them (it would fail on this file)
    installation_channels = tmp_path / "apprise.yml"
    installation_channels.write_text("urls: [this is not : valid yaml", encoding="utf-8")
    env = {
        **os.environ,
        "BIHUAN_HOME": str(tmp_path),
        "BIHUAN_CONFIG_DIR": str(REPO / "config"),
        "BIHUAN_APPRISE_CONFIG": str(installation_channels),
        "COLUMNS": "120",
    }
    cmd = [BIHUAN, "demo", "--db", str(db), "--departments", "10"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "部门 departments" in out and "履职台账 indicators" in out
    assert "12 key tasks" in out  # the importer's warning is shown
    assert str(db) in out
    assert (tmp_path / "var" / "demo" / "juxian-2022.xlsx").exists()

    listed = subprocess.run(
        [BIHUAN, "departments", "--db", str(db), "--json", "--as", "wangzr"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"code"') == 10
    assert any((tmp_path / "var" / "outbox").iterdir())  # delivered to the demo's own sink

    # a database holding the demo county alone is wiped and built again
    again = subprocess.run(
        [BIHUAN, "demo", "--db", str(db), "--departments", "6", "--year", "2022"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stderr
