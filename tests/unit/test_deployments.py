"""The deployments built from policy: cron and time zone from config, work-pool binding, and the
clear refusals of `bihuan serve` without a reachable Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest

from bihuan.deployments import build_deployments, deployment_specs
from bihuan.policy import PolicyError, load_policy

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "config")


def test_specs_take_cron_and_time_zone_from_the_schedules_section() -> None:
    s = POLICY.schedules.model_copy(update={"track": "30 8 * * *", "timezone": "Asia/Urumqi"})
    policy = POLICY.model_copy(update={"schedules": s})
    specs = {d.name: d for d in deployment_specs(policy)}
    assert set(specs) == {
        "mid-year-assessment",
        "year-end-assessment",
        "daily-tracking",
        "january-recheck-and-results",
    }
    assert specs["daily-tracking"].cron == "30 8 * * *"
    # the assessment runs are derived from the phase windows (06-30 and 12-31 close)
    assert specs["mid-year-assessment"].cron == "0 9 1 7 *"
    assert specs["year-end-assessment"].cron == "0 9 1 1 *"
    assert {d.timezone for d in specs.values()} == {"Asia/Urumqi"}
    assert specs["mid-year-assessment"].parameters["wait_for_approval"] is True


def test_served_deployments_carry_a_cron_schedule_and_no_pool() -> None:
    deps = build_deployments(POLICY, jurisdictions=["juxian"], run_as="scheduler")
    assert [d.name for d in deps] == [d.name for d in deployment_specs(POLICY)]
    for dep in deps:
        [sched] = dep.schedules
        assert sched.schedule.timezone == "Asia/Shanghai"
        assert dep.work_pool_name is None and dep.storage is None
        # the jurisdiction and the user are parameters Prefect records; the database never is
        assert (
            dep.parameters["jurisdiction"] == "juxian" and dep.parameters["run_as"] == "scheduler"
        )
        assert not any("database" in k or "url" in k for k in dep.parameters)


def test_one_schedule_per_jurisdiction_each_with_its_parameters() -> None:
    [mid, *_] = build_deployments(POLICY, jurisdictions=["juxian", "rizhao"], run_as="scheduler")
    assert [s.parameters["jurisdiction"] for s in mid.schedules] == ["juxian", "rizhao"]
    assert {s.parameters["run_as"] for s in mid.schedules} == {"scheduler"}
    with pytest.raises(ValueError, match="jurisdictions"):
        build_deployments(POLICY, jurisdictions=[], run_as="scheduler")


def test_pool_deployments_run_from_the_checkout_whatever_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    [mid, *_] = build_deployments(
        POLICY, jurisdictions=["juxian"], run_as="scheduler", work_pool="p"
    )
    assert mid.work_pool_name == "p"
    assert mid.entrypoint == "flows/scheduled.py:mid_year_assessment"
    assert mid.storage is not None
    step = mid.storage.to_pull_step()
    assert step == {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    assert (REPO / "flows" / "scheduled.py").exists()


def test_serve_without_a_server_says_how_to_start_one() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from bihuan.commands.server import require_server
    from bihuan.errors import UserError

    with temporary_settings({PREFECT_API_URL: None}), pytest.raises(UserError) as exc:
        require_server()
    assert "bihuan server" in str(exc.value) and "PREFECT_API_URL" in str(exc.value)
    # a port nothing listens on
    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pytest.raises(UserError) as exc,
    ):
        require_server()
    assert "no Prefect server answers" in str(exc.value)


def test_server_refuses_the_network_without_a_credential() -> None:
    import pytest

    from bihuan.commands.server import server_env
    from bihuan.errors import UserError

    assert server_env("127.0.0.1", {}) == {}
    with pytest.raises(UserError, match="PREFECT_SERVER_API_AUTH_STRING"):
        server_env("0.0.0.0", {})
    with pytest.raises(UserError, match="12"):
        server_env("0.0.0.0", {"PREFECT_SERVER_API_AUTH_STRING": "admin:short"})
    env = server_env("0.0.0.0", {"PREFECT_SERVER_API_AUTH_STRING": "admin:a-long-password"})
    assert env["PREFECT_API_AUTH_STRING"] == "admin:a-long-password"


# ------------------------------------------------------------ the assessment runs (issue 10.5)


def _policy_with(tmp_path: Path, schedules: str, phases: str = "") -> Path:
    """config/policy.toml with its [schedules] (and optionally [phases]) replaced."""
    text = (REPO / "config" / "policy.toml").read_text(encoding="utf-8")
    head, _, tail = text.partition("[schedules]")
    rest = tail.split("\n[", 1)
    text = head + schedules + ("\n[" + rest[1] if len(rest) > 1 else "\n")
    if phases:
        text = text.replace('closes = "06-30"', phases)
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_assessment_runs_fall_after_the_windows_close(tmp_path: Path) -> None:
    for phase in ("mid-year", "year-end"):
        window = POLICY.phases.window(phase)
        md = POLICY.schedules.run_day(window)
        closes = window.closes.on(2022)
        run = md.on(2022 if (md.month, md.day) > (closes.month, closes.day) else 2023)
        assert run > closes
        # the run assesses the window's year, even in the next January
        assert POLICY.phases.assessed_year(phase, run) == 2022
    # a window closing on 15 July, three days after: 18 July at 20:30
    policy = load_policy(
        _policy_with(
            tmp_path,
            '[schedules]\nafter_close_days = 3\nassessment_time = "20:30"\n',
            phases='closes = "07-15"',
        )
    )
    specs = {d.name: d for d in deployment_specs(policy)}
    assert specs["mid-year-assessment"].cron == "30 20 18 7 *"


@pytest.mark.parametrize("cron", ["0 18 30 6 *", "0 9 15 6 *", "0 9 * 7 *"])
def test_a_mid_year_run_on_or_before_the_close_is_refused_naming_the_key(
    tmp_path: Path, cron: str
) -> None:
    with pytest.raises(PolicyError) as exc:
        load_policy(_policy_with(tmp_path, f'[schedules]\nmid_year = "{cron}"\n'))
    assert "schedules.mid_year" in str(exc.value) and "06-30" in str(exc.value)


def test_a_configured_run_after_the_close_is_kept(tmp_path: Path) -> None:
    policy = load_policy(
        _policy_with(tmp_path, '[schedules]\nmid_year = "0 8 2 7 *"\nyear_end = "0 8 4 1 *"\n')
    )
    specs = {d.name: d for d in deployment_specs(policy)}
    assert specs["mid-year-assessment"].cron == "0 8 2 7 *"
    assert specs["year-end-assessment"].cron == "0 8 4 1 *"
