"""`bihuan calendar`: show a year's working-day calendar, check its coverage, import the notice."""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from bihuan.cli import (
    AsOpt,
    DbOpt,
    JsonOpt,
    acting,
    console,
    ctx_for,
    err_console,
    print_json,
    print_table,
)
from bihuan.core.calendar_notice import Notice, parse_notice, render_year_block, replace_year_block
from bihuan.core.holidays import RULE_FIRST_YEAR, RULE_LAST_YEAR
from bihuan.core.workdays import PACKAGE_YEARS, Source, WorkCalendar
from bihuan.errors import ConfigError, UserError
from bihuan.policy import POLICY_FILE, Policy, PolicyError
from bihuan.settings import get_settings

calendar_app = typer.Typer(
    help="Working-day calendar (工作日历): holidays, 调休 workdays, the State Council's notice.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The policy file to read (and write). Default: policy.toml in the installation's "
        "config directory (BIHUAN_CONFIG_DIR, else config/).",
        dir_okay=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Count days from this date, YYYY-MM-DD (default: today in Asia/Shanghai)."
    ),
]

_WEEKDAYS = "一二三四五六日"


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")


# ---------------------------------------------------------------------- policy file


def _policy_path(config: Path | None) -> Path:
    return config if config is not None else get_settings().policy_dir / POLICY_FILE


def _validate(path: Path, text: str) -> Policy:
    """The policy in ``text``, with its working-day calendar built once to catch what only the
    calendar checks (a day listed as both holiday and workday, a date in the wrong year)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"bad policy configuration:\n{PolicyError(path, [('(syntax)', str(exc))])}"
        ) from None
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        problems = [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in exc.errors()]
        raise ConfigError(f"bad policy configuration:\n{PolicyError(path, problems)}") from None
    WorkCalendar.from_policy(policy.calendar)
    return policy


def _read_policy(path: Path) -> tuple[bytes, Policy]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found; copy config/policy.toml from the repository, or give --config"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    return data, _validate(path, text)


def _calendar(config: Path | None) -> tuple[WorkCalendar, Policy]:
    _, policy = _read_policy(_policy_path(config))
    return WorkCalendar.from_policy(policy.calendar), policy


def _today(as_of: str | None) -> date:
    from bihuan.commands.cycle import parse_date

    return parse_date(as_of)


# ---------------------------------------------------------------------- show


@calendar_app.command("show")
def show(
    year: Annotated[
        int, typer.Option("--year", help="Calendar year, e.g. 2027.", min=1901, max=2199)
    ],
    config: ConfigOpt = None,
    json: JsonOpt = False,
) -> None:
    """List a year's holidays and 调休 workdays (节假日与调休), with their names and source."""
    cal, _ = _calendar(config)
    source = cal.source(year)
    days = cal.special_days(year)  # raises the clear CalendarError for an unknown year
    provisional = cal.is_provisional_year(year)
    # counted within the year, so the year before need not be known
    first = date(year, 1, 1)
    workdays_in_year = cal.workdays_between(first, date(year, 12, 31)) + cal.is_workday(first)
    if json:
        print_json(
            {
                "year": year,
                "source": source,
                "provisional": provisional,
                "official_until": cal.official_until().isoformat(),
                "workdays_in_year": workdays_in_year,
                "days": [
                    {
                        "date": d.day.isoformat(),
                        "weekday": f"周{_WEEKDAYS[d.day.weekday()]}",
                        "kind": "workday" if d.workday else "holiday",
                        "name": d.name,
                        "festival": d.festival,
                        "source": d.source,
                        "provisional": d.source is Source.PROVISIONAL,
                    }
                    for d in days
                ],
            }
        )
        return
    title = f"{year} 节假日与调休 holidays and workdays ({source.value if source else ''})"
    if provisional:
        title += " — 暂定 provisional"
    print_table(
        title,
        ["date", "星期", "kind", "节日 name", "source", "note"],
        [
            [
                d.day.isoformat(),
                f"周{_WEEKDAYS[d.day.weekday()]}",
                "上班 workday" if d.workday else "放假 day off",
                d.name or "—",
                d.source.value,
                "暂定" if d.source is Source.PROVISIONAL else "",
            ]
            for d in days
        ],
    )
    console.print(f"{workdays_in_year} working days in {year}.")
    if provisional:
        console.print(
            f"[yellow]暂定 provisional:[/yellow] no official arrangement for {year} yet; weekends "
            "and the statutory holidays only, no 调休. Deadlines counted into this year may move "
            f"once the State Council's notice for {year} is imported "
            "(`bihuan calendar import-notice FILE`)."
        )


# ---------------------------------------------------------------------- check


def _span(years: list[int]) -> str:
    """2004–2026, 2028 for a sorted list of years."""
    parts: list[str] = []
    run: list[int] = []
    for y in [*years, None]:
        if y is not None and run and y == run[-1] + 1:
            run.append(y)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}")
        run = [y] if y is not None else []
    return ", ".join(parts) or "none"


@calendar_app.command("check")
def check(
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    json: JsonOpt = False,
) -> None:
    """Say until when the calendar is official, which years are provisional, and warn in time
    (exit code 0 either way) when the State Council's next notice must be imported."""
    cal, policy = _calendar(config)
    today = _today(as_of)
    until = cal.official_until()
    days_left = (until - today).days
    threshold = policy.calendar.warn_days_before_end
    configured = sorted(policy.calendar.years)
    package = list(PACKAGE_YEARS)
    window = range(today.year - 1, max(today.year + 2, *(configured or [0])) + 1)
    years = [{"year": y, "source": cal.source(y)} for y in window]
    next_year = until.year + 1
    warning = None
    if days_left < threshold:
        when = f"in {days_left} days" if days_left >= 0 else f"{-days_left} days ago"
        then = (
            f"deadlines in {next_year} are provisional (暂定) until then"
            if cal.source(next_year) is Source.PROVISIONAL
            else f"a deadline in {next_year} stops the run with an error until then"
        )
        warning = (
            f"official calendar coverage ends on {until} ({when}): import the State Council's "
            f"notice 国务院办公厅关于{next_year}年部分节假日安排的通知 with "
            f"`bihuan calendar import-notice FILE`; {then}"
        )
    if json:
        print_json(
            {
                "as_of": today.isoformat(),
                "official_until": until.isoformat(),
                "days_left": days_left,
                "warn_days_before_end": threshold,
                "warning": warning,
                "provisional_enabled": policy.calendar.provisional,
                "package_years": [package[0], package[-1]],
                "configured_years": configured,
                "provisional_rule_years": (
                    [RULE_FIRST_YEAR, RULE_LAST_YEAR] if policy.calendar.provisional else None
                ),
                "years": years,
            }
        )
        return
    print_table(
        f"工作日历 calendar coverage as of {today}",
        ["year", "source", "note"],
        [
            [
                row["year"],
                row["source"] or "—",
                "暂定 provisional"
                if row["source"] is Source.PROVISIONAL
                else ("no data: a deadline here stops the run" if row["source"] is None else ""),
            ]
            for row in years
        ],
    )
    console.print(f"chinese_calendar package: {_span(package)}")
    console.print(f"configured (calendar.years of the policy): {_span(configured)}")
    if policy.calendar.provisional:
        console.print(f"provisional rule (暂定): any other year {RULE_FIRST_YEAR}–{RULE_LAST_YEAR}")
    else:
        console.print("provisional rule: off (provisional = false)")
    console.print(f"official coverage until {until} ({days_left} days from {today})")
    if warning:
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


# ---------------------------------------------------------------------- import-notice


def _read_notice(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory; give the notice's text file") from None
    # saved from a browser it is UTF-8; from a Windows editor often GB18030 (GBK)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UserError(f"{path}: neither UTF-8 nor GB18030 text; save it as UTF-8")


def _runs(days: tuple[date, ...]) -> str:
    """2027-02-05–02-11 (7), 2027-02-20 for a sorted tuple of days."""
    parts: list[str] = []
    run: list[date] = []
    for d in [*days, None]:
        if d is not None and run and (d - run[-1]).days == 1:
            run.append(d)
            continue
        if run:
            first, last = run[0], run[-1]
            if len(run) == 1:
                parts.append(first.isoformat())
            else:
                end = last.isoformat() if last.year != first.year else f"{last:%m-%d}"
                parts.append(f"{first.isoformat()}–{end} ({len(run)})")
        run = [d] if d is not None else []
    return ", ".join(parts) or "—"


def _warnings(notice: Notice) -> list[str]:
    found = [
        f"no paragraph for {f.label}; is the text complete?" for f in notice.missing_festivals()
    ]
    found += [
        f"{d} ({f.label}) is a statutory holiday but the notice does not give it off; check the text"
        for d, f in notice.statutory_gaps()
    ]
    if notice.year in PACKAGE_YEARS:
        found.append(
            f"chinese_calendar already covers {notice.year}; the imported days replace its data "
            "for that year"
        )
    earlier = [d for d in notice.holidays() + notice.workdays() if d.year < notice.year]
    if earlier:
        found.append(
            f"{', '.join(str(d) for d in sorted(earlier))} fall in {notice.year - 1}; they are "
            f"written under [calendar.years.{notice.year}] and override those days of "
            f"{notice.year - 1}"
        )
    return found


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so a crash leaves the old or the new file, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


@calendar_app.command("import-notice")
def import_notice(
    file: Annotated[
        Path,
        typer.Argument(
            help="Text of 国务院办公厅关于YYYY年部分节假日安排的通知 (UTF-8 or GB18030), as published.",
            dir_okay=False,
        ),
    ],
    year: Annotated[
        int | None,
        typer.Option(
            "--year", help="The year the notice is for, when its title is not in the file."
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write without asking.")] = False,
    config: ConfigOpt = None,
    as_: AsOpt = None,
    db: DbOpt = None,
) -> None:
    """Read the State Council's holiday notice (节假日安排通知) and write its year into the
    policy as the table calendar.years.YYYY, replacing an earlier import of that year; nothing
    else in the file changes. An admin's action (policy), recorded in the audit log."""
    from bihuan.clock import business_today
    from bihuan.services import policy as policy_service
    from bihuan.services.uow import UnitOfWork

    ctx = ctx_for(db, check_policy=False)
    actor = acting(ctx, as_)
    with UnitOfWork(ctx, readonly=True) as uow:
        policy_service.check_may_change_policy(uow, actor, "import a holiday notice")
    policy_service.refuse_shipped_default(_policy_path(config))
    notice = parse_notice(_read_notice(file), year=year, where=str(file))
    print_table(
        f"{notice.title} ({file.name})",
        ["节日 festival", "放假 days off", "上班 workdays (调休)", "line"],
        [[a.label, _runs(a.holidays), _runs(a.workdays), a.line] for a in notice.arrangements],
    )
    for warning in _warnings(notice):
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)

    path = _policy_path(config)
    old, policy = _read_policy(path)  # a policy already broken is fixed first, not blamed on us
    old_text = old.decode("utf-8")
    newline = "\r\n" if "\r\n" in old_text else "\n"
    block = render_year_block(notice, newline=newline)
    new_text = replace_year_block(old_text, notice.year, block, where=str(path))
    if new_text == old_text:
        console.print(
            f"{escape(str(path))} already holds this notice for {notice.year}; nothing to write."
        )
        return
    _validate(path, new_text)
    action = "replace" if notice.year in policy.calendar.years else "add"
    if not yes and not typer.confirm(
        f"{action} [calendar.years.{notice.year}] in {path}?", default=False
    ):
        err_console.print("nothing written.")
        raise typer.Exit(1)
    _write(path, new_text.encode("utf-8"))
    try:
        _read_policy(path)
    except UserError as exc:
        _write(path, old)
        raise ConfigError(f"{exc}\nthe old {path} was restored; nothing changed") from None
    with UnitOfWork(ctx) as uow:
        policy_service.record_calendar_import(
            uow,
            actor,
            year=notice.year,
            path=path,
            holidays=len(notice.holidays()),
            workdays=len(notice.workdays()),
            as_of=business_today(),
        )
    console.print(
        escape(
            f"wrote [calendar.years.{notice.year}] to {path} ({len(notice.holidays())} days off, "
            f"{len(notice.workdays())} 调休 workdays). Check it with "
            f"`bihuan calendar show --year {notice.year}`."
        )
    )
