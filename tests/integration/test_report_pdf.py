"""The year-end report as PDF: real WeasyPrint, real fontconfig, fonts checked with `pdffonts`.

The tests that render Chinese need a Chinese font and poppler-utils: on a bare machine they skip
with a reason naming the Debian package; `.ci/run` installs fonts-wqy-microhei and poppler-utils
and sets BIHUAN_TEST_ALL_OPTIONAL=1, so there they must run.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bihuan.commands import results as results_commands
from bihuan.core.results import RectItem, ScoredDept, rank, rectification_rates
from bihuan.errors import UserError
from bihuan.report import PhaseRun, ReportData, render_report
from bihuan.report_pdf import has_cjk_font, html_to_pdf, pdf_beside
from tests.optional import require_cjk_font, require_poppler

AS_OF = date(2023, 12, 31)
NAMES = [
    ("E01", "县发展和改革局", "economic", 92.5),
    ("E02", "县财政局", "economic", 81.0),
    ("E03", "县商务局", "economic", 66.5),
    ("N01", "县教育和体育局", "non_economic", 88.0),
    ("N02", "县民政局", "non_economic", 74.0),
    ("N03", "县司法局", "non_economic", 61.0),
]
CJK_FONT = re.compile(r"WenQuanYi|WQY|Noto.*CJK", re.IGNORECASE)


def sample_data() -> ReportData:
    depts = [ScoredDept(code, name, cat, s, year_end_score=s) for code, name, cat, s in NAMES]
    items = [
        RectItem(code, cat, "verified_closed", date(2023, 11, 15), date(2023, 11, 10))
        for code, _, cat, _ in NAMES
    ] + [RectItem("E03", "economic", "open", date(2023, 11, 15))]
    return ReportData(
        county="莒县",
        office="莒县县委编办",
        year=2023,
        as_of=AS_OF,
        phases=[
            PhaseRun("mid-year", date(2023, 6, 1), date(2023, 6, 30), 6, 2, 4),
            PhaseRun("year-end", date(2023, 12, 1), date(2023, 12, 31), 6, 2, 4),
        ],
        board=rank(depts, "all", green=2, red=2),
        rectification=rectification_rates(items, AS_OF),
        green="2名",
        red="2名",
    )


def pdf_fonts(pdf: Path) -> list[tuple[str, bool]]:
    """(font name, embedded) for each font `pdffonts` lists."""
    assert shutil.which("pdffonts"), "pdffonts not found: apt-get install poppler-utils"
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    rows = []
    for line in out.stdout.splitlines()[2:]:  # a header line and a dashed rule
        # name, type (may contain spaces), encoding, then emb sub uni "object ID" columns
        cols = line.split()
        rows.append((cols[0], cols[-5] == "yes"))
    return rows


@pytest.fixture
def no_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fontconfig with an empty configuration: a machine without any font."""
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n', encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))


def test_pdf_embeds_a_chinese_font(tmp_path: Path) -> None:
    require_cjk_font()
    require_poppler()
    html = render_report(sample_data())
    start = time.perf_counter()
    pdf = html_to_pdf(html, tmp_path / "sub" / "report.pdf")
    seconds = time.perf_counter() - start
    print(f"PDF rendered in {seconds:.2f} s, {pdf.stat().st_size} bytes")

    assert pdf.read_bytes().startswith(b"%PDF-")
    fonts = pdf_fonts(pdf)
    cjk = [(name, emb) for name, emb in fonts if CJK_FONT.search(name)]
    assert cjk, f"no CJK font in the PDF: {fonts}"
    assert all(emb for _, emb in cjk), f"a CJK font is not embedded: {cjk}"
    # The Chinese text is really there (mapped to Unicode), not missing-glyph boxes.
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "莒县2023年度部门履职监管评估综合情况报告" in text
    assert "县发展和改革局" in text and "绿榜" in text


def test_screen_only_css_is_not_reported_but_problems_are(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_cjk_font()
    html = (
        '<html><body><div style="overflow-x: auto">县财政局</div>'
        '<img src="file:///nonexistent/x.png"></body></html>'
    )
    with caplog.at_level(logging.DEBUG):
        html_to_pdf(html, tmp_path / "x.pdf")
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not any("overflow-x" in m for m in messages), messages
    assert any("nonexistent" in m for m in messages), messages  # a real problem still shows


def test_missing_font_is_a_user_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    with pytest.raises(UserError) as err:
        html_to_pdf(render_report(sample_data()), out, has_cjk_font=lambda: False)
    assert "fonts-wqy-microhei" in str(err.value) and str(out) in str(err.value)
    assert not out.exists()


# In a fresh interpreter: WeasyPrint is imported once per process.
IMPORT_WEASYPRINT = """
import ctypes.util
{setup}
original = ctypes.util.find_library
from bihuan.report_pdf import weasyprint_module
module = weasyprint_module()
assert ctypes.util.find_library is original, "find_library left patched"
print(module.HTML.__name__)
"""


@pytest.mark.parametrize(
    "setup",
    [
        "",
        # a machine whose ldconfig cache knows none of the libraries: they are still found (by
        # the file names WeasyPrint tries last, or the full search of a second attempt)
        "ctypes.util._findSoname_ldconfig = lambda name: None",
    ],
    ids=["ldconfig", "ldconfig-knows-nothing"],
)
def test_weasyprint_imports_with_ldconfig_lookups_only(setup: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_WEASYPRINT.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "HTML"


@pytest.mark.usefixtures("no_fonts")
def test_font_probe_sees_a_machine_without_fonts() -> None:
    assert not has_cjk_font()


def test_pdf_beside_the_html_only_with_a_font(tmp_path: Path) -> None:
    require_cjk_font()
    html = tmp_path / "莒县-2023-综合评估情况报告.html"
    html.write_text(render_report(sample_data()), encoding="utf-8")

    assert pdf_beside(html, has_cjk_font=lambda: False) is None
    assert not html.with_suffix(".pdf").exists()

    pdf = pdf_beside(html)
    assert pdf == html.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")


def _report_cli(db: str, out: Path) -> tuple[int, str]:
    cli = typer.Typer()
    results_commands.register(cli)
    args = ["report", "--year", "2023", "--out", str(out), "--db", db]
    result = CliRunner().invoke(cli, args)
    if result.exception and not isinstance(result.exception, SystemExit | UserError):
        raise result.exception
    message = result.output + (str(result.exception) if result.exception else "")
    return result.exit_code, message


@pytest.mark.usefixtures("no_fonts")
def test_cli_pdf_without_font_names_the_package(sqlite_db: str, tmp_path: Path) -> None:
    # the font is checked before anything else: no user, no database read
    out = tmp_path / "report.pdf"
    code, message = _report_cli(sqlite_db, out)
    assert code != 0
    assert "fonts-wqy-microhei" in message
    assert not out.exists()
