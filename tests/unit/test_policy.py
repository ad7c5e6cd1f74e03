"""Policy validation: every bad value stops the program with the file, the key and the reason."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bihuan.policy import PolicyError, PolicyGap, load_policy

REPO = Path(__file__).resolve().parents[2]
GOOD = (REPO / "config" / "policy.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "policy.toml").write_text(text, encoding="utf-8")
    return tmp_path


def edit(pattern: str, repl: str) -> str:
    new, n = re.subn(pattern, repl, GOOD, count=1, flags=re.MULTILINE)
    assert n == 1, pattern
    return new


def test_the_shipped_policy_is_valid() -> None:
    policy = load_policy(REPO / "config")
    assert policy.board.green == "top 16%" and policy.board.red == "bottom 16%"
    assert policy.board.places(62) == (10, 10)  # Ju County's top ten and bottom ten
    assert policy.points_for(2022).economic == 20 and policy.points_for(2022).non_economic == 60
    with pytest.raises(PolicyGap) as gap:  # a year not configured is no other year's points
        policy.points_for(2030)
    assert gap.value.key == "points.2030" and "add a [points.2030] table" in gap.value.reason
    assert policy.reminders.pre_due == [5, 2, 1]
    assert policy.schedules.timezone == "Asia/Shanghai"


BAD_CASES = [
    # (what is wrong, edited text, key expected in the message, words of the reason)
    (
        "weights not summing to 1",
        edit(r"^ledger = 0\.55", "ledger = 0.45"),
        "scoring.weights",
        "sum to 1.0",
    ),
    (
        "negative weight",
        edit(r"^staffing = 0\.15", "staffing = -0.15"),
        "scoring.weights.staffing",
        "greater than or equal",
    ),
    (
        "board size negative",
        edit(r'^green = "top 16%"', "green = -1"),
        "board.green",
        "greater than or equal",
    ),
    (
        "board size neither a count nor a share",
        edit(r'^green = "top 16%"', 'green = "ten"'),
        "board.green",
        'a share ("top 15%")',
    ),
    (
        "green share at the bottom",
        edit(r'^green = "top 16%"', 'green = "bottom 15%"'),
        "board.green",
        'the top of the board: "top',
    ),
    (
        "shares covering every department",
        edit(r'^green = "top 16%"\nred = "bottom 16%"', 'green = "top 60%"\nred = "bottom 40%"'),
        "board",
        "together cover every department",
    ),
    (
        "unknown board scope",
        edit(r'^scope = "all"', 'scope = "county"'),
        "board.scope",
        "'all' or 'category'",
    ),
    (
        "points out of range",
        edit(r"^economic = 20", "economic = 200"),
        "points.2022.economic",
        "less than or equal",
    ),
    ("a typo in a key", edit(r"^share = 0\.2", "shair = 0.2"), "draw.shair", "Extra inputs"),
    ("share above 1", edit(r"^share = 0\.2", "share = 1.5"), "draw.share", "less than or equal"),
    (
        "bad phase date",
        edit(r'^opens = "06-01"', 'opens = "06-31"'),
        "phases.mid-year.opens",
        "day is out of range",
    ),
    (
        "window closing before it opens",
        edit(r'^closes = "06-30"', 'closes = "05-01"'),
        "phases.mid-year",
        "closes must not be before opens",
    ),
    (
        "repeated reminder offsets",
        edit(r"^pre_due = \[5, 2, 1\]", "pre_due = [5, 5, 1]"),
        "reminders.pre_due",
        "distinct",
    ),
    (
        "escalation ladder too short",
        edit(r"^escalate_after = \[0, 3, 6, 10\]", "escalate_after = [0, 3]"),
        "reminders.escalate_after",
        "four steps",
    ),
    (
        "escalation ladder falling",
        edit(r"^escalate_after = \[0, 3, 6, 10\]", "escalate_after = [0, 6, 3, 10]"),
        "reminders.escalate_after",
        "rising",
    ),
    (
        "calendar override not a date",
        edit(r"^extra_holidays = \[\]", 'extra_holidays = ["next monday"]'),
        "calendar.extra_holidays.0",
        "date",
    ),
    (
        "bad cron",
        edit(r'^track = "0 9 \* \* \*"', 'track = "every day"'),
        "schedules.track",
        "five-field cron",
    ),
    (
        "unknown time zone",
        edit(r'^timezone = "Asia/Shanghai"', 'timezone = "Asia/Beijing"'),
        "schedules.timezone",
        "unknown time zone",
    ),
    (
        "deadline of 0 days",
        edit(r"^high = 10", "high = 0"),
        "deadlines.high",
        "greater than or equal",
    ),
    (
        "qualitative levels out of order",
        edit(r"^formulated = 60", "formulated = 120"),
        "scoring.qualitative.formulated",
        "less than or equal",
    ),
]


@pytest.mark.parametrize(
    ("what", "text", "key", "reason"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_values_name_the_file_the_key_and_the_reason(
    tmp_path: Path, what: str, text: str, key: str, reason: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    message = str(caught.value)
    assert str(tmp_path / "policy.toml") in message
    assert key in message, message
    assert reason in message, message


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy\.toml: \(syntax\)"):
        load_policy(write(tmp_path, "[board\ngreen = 10"))
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nowhere")


def test_every_problem_is_listed_not_only_the_first(tmp_path: Path) -> None:
    text = edit(r'^green = "top 16%"', "green = -1").replace('scope = "all"', 'scope = "nope"')
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    assert {k for k, _ in caught.value.problems} >= {"board.green", "board.scope"}


def test_a_bad_policy_stops_any_command_with_exit_code_2(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "policy.toml").write_text(edit(r'^red = "bottom 16%"', "red = -3"), encoding="utf-8")
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "bihuan"), "departments", "--db", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "BIHUAN_CONFIG_DIR": str(config),
            "HOME": str(tmp_path),
            "COLUMNS": "200",
        },
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "board.red" in proc.stderr and "policy.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("green", "red", "departments", "expected"),
    [
        ('"top 15%"', '"bottom 15%"', 62, (9, 9)),  # 9.3
        ('"top 15%"', '"bottom 15%"', 6, (1, 1)),  # 0.9: at least one place
        ('"top 25%"', '"bottom 10%"', 10, (3, 1)),  # 2.5 rounds half up
        ('"20%"', "3", 40, (8, 3)),  # a bare share, and a count beside it
        ('"top 0%"', '"bottom 10%"', 30, (0, 3)),
        ("10", "10", 62, (10, 10)),
    ],
)
def test_board_sizes_as_counts_or_shares(
    tmp_path: Path, green: str, red: str, departments: int, expected: tuple[int, int]
) -> None:
    policy = load_policy(
        write(
            tmp_path,
            edit(r'^green = "top 16%"\nred = "bottom 16%"', f"green = {green}\nred = {red}"),
        )
    )
    assert policy.board.places(departments) == expected


@pytest.mark.parametrize(
    ("green", "red", "departments", "words"),
    [
        (
            "10",
            "10",
            6,
            "10 green and 10 red places for 6 departments (all departments) would overlap",
        ),
        (
            "3",
            "3",
            6,
            "3 green and 3 red places for 6 departments (all departments) would leave no",
        ),
        ('"top 40%"', '"bottom 40%"', 2, "1 green and 1 red places for 2 departments"),
    ],
)
def test_a_board_that_does_not_fit_the_county_names_the_keys(
    tmp_path: Path, green: str, red: str, departments: int, words: str
) -> None:
    policy = load_policy(
        write(
            tmp_path,
            edit(r'^green = "top 16%"\nred = "bottom 16%"', f"green = {green}\nred = {red}"),
        )
    )
    with pytest.raises(PolicyGap) as gap:
        policy.board.places(departments)
    assert gap.value.key == "board.green + board.red"
    assert words in gap.value.reason and 'green = "top 15%"' in gap.value.reason
