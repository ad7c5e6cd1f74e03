"""The benchmark harness on a six-department jurisdiction: every stage runs, the JSON has its
shape, and the plain-SQL baseline agrees with what the flows stored (so benchmarks cannot rot)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.harness import run_size
from benchmarks.run import STAGES, render_markdown, summarise_size
from benchmarks.synth import Size

REQUIRED = {
    "size": str,
    "backend": str,
    "departments": int,
    "total_seconds": float,
    "peak_rss_mb": float,
    "prefect_share": float,
    "baseline_seconds": float,
    "ratio_to_baseline": float,
    "stages": dict,
}


def test_harness_on_a_tiny_jurisdiction(tmp_path: Path) -> None:
    result = run_size(Size("tiny", 6), "sqlite", tmp_path, load_in_process=True)
    result = json.loads(json.dumps(result, default=str))  # what latest.json holds
    for key, kind in REQUIRED.items():
        assert isinstance(result[key], kind), (key, result[key])
    assert result["departments"] == 6 and result["indicators"] == 6 * 65
    assert list(result["stages"]) == list(STAGES)
    assert all(v > 0 for v in result["stages"].values())
    assert 0 <= result["prefect_share"] <= 1
    # the baseline agrees with the flows' totals (1e-9) and board ranks and colours
    assert result["baseline_agrees"], result["baseline_mismatches"]
    assert result["baseline_max_diff"] <= 1e-9
    # the cycle really ran: items were issued and digests reached the loopback SMTP server
    details = result["stage_details"]
    assert details["problem_lists"]["rows"] > 0
    assert details["track"]["rows"] == details["problem_lists"]["rows"]
    assert result["mails_received"] == details["dispatch"]["rows"] > 0
    text = render_markdown({"commit": "x", "date": "d", "cpu": "c", "nproc": 2, "memory_gb": 1,
                            "python": "3", "sqlite": "3", "postgresql": "16", "prefect": "3"},
                           [result], {})  # fmt: skip
    assert "| tiny | sqlite | 6 | 390 |" in text
    # every goal is listed, met or missed where this run measured it, and says so where not
    summary = {"county": summarise_size([result], "tiny")}
    assert set(summary["county"]) >= {"total", "prefect_share", "ratio_to_baseline"}
    text = render_markdown({"commit": "x", "date": "d", "cpu": "c", "nproc": 2, "memory_gb": 1,
                            "python": "3", "sqlite": "3", "postgresql": "16", "prefect": "3"},
                           [result], {}, summary=summary)  # fmt: skip
    overhead = next(line for line in text.splitlines() if "Prefect overhead" in line)
    assert "| met |" in overhead or "| **missed** |" in overhead, overhead
    web = next(line for line in text.splitlines() if "department item list" in line)
    assert "not measured in this run" in web, web
