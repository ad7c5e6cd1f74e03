"""The year-end comprehensive report (综合评估情况报告) as PDF: the HTML report through WeasyPrint.

WeasyPrint lays text out with pango, which takes its fonts from fontconfig. Without a Chinese
(CJK) font every Chinese character comes out as a missing-glyph box, and the PDF still looks
"successful"; so `html_to_pdf` refuses to render unless fontconfig knows a font covering Chinese
(`fc-list :lang=zh`), and says which Debian package to install. The probe is a parameter so a
test can stand in a machine without fonts.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bihuan.errors import UserError
from bihuan.runtime import old_objects_frozen

log = logging.getLogger(__name__)

FONT_PACKAGE = "fonts-wqy-microhei"
NO_FONT = (
    "no Chinese (CJK) font is installed, so the PDF report would show missing glyphs "
    f"instead of Chinese text; install one (Debian: `apt-get install {FONT_PACKAGE}` or "
    "`fonts-noto-cjk`) or write the report as .html"
)

# The HTML report is laid out for a browser window (grey page, centred white column); on paper
# the page itself is the column.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm; }
body { background: #fff; }
main { max-width: none; padding: 0; }
h2, h3 { break-after: avoid; }
tr, .chart { break-inside: avoid; }
.chart svg { max-width: 100%; height: auto; }
"""


def _not_ignored_css(record: logging.LogRecord) -> bool:
    # The report's browser-only CSS (e.g. `overflow-x` of a wide chart) is meant for screens;
    # WeasyPrint warning that it skips it is not a problem with the PDF.
    return not str(record.msg).startswith("Ignored")


# WeasyPrint and fontTools (font subsetting) log progress and every table they subset at
# INFO/DEBUG; only problems belong in the command's output.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)
logging.getLogger("weasyprint").addFilter(_not_ignored_css)


_IMPORT_LOCK = threading.Lock()


@contextlib.contextmanager
def _ldconfig_only() -> Iterator[None]:
    """Look shared libraries up in ldconfig's cache only, for the duration of the block.

    WeasyPrint's first import opens pango, harfbuzz, fontconfig… through cffi, trying several
    names per library; cffi asks `ctypes.util.find_library`, which on Linux runs ldconfig, then
    gcc and ld for every name it does not find: some 20 lookups, 0.23 s of the report's stage.
    ldconfig's answer is the one find_library would give first; a library it does not know is
    found by the caller (`weasyprint_module`) with the full search on a second attempt."""
    ldconfig = getattr(ctypes.util, "_findSoname_ldconfig", None)
    if not sys.platform.startswith("linux") or ldconfig is None:
        yield
        return
    original = ctypes.util.find_library
    ctypes.util.find_library = ldconfig
    try:
        yield
    finally:
        ctypes.util.find_library = original


def weasyprint_module() -> Any:
    """`weasyprint`, imported (on first use: WeasyPrint loads pango through cffi, which only the
    PDF path needs) without find_library's slow fallbacks when ldconfig knows the libraries."""
    with _IMPORT_LOCK:  # also while another thread imports it (it is in sys.modules already)
        if "weasyprint" in sys.modules:
            return sys.modules["weasyprint"]
        try:
            with _ldconfig_only():
                import weasyprint
        except OSError:  # a library ldconfig does not know: import again with the full search
            for name in [m for m in sys.modules if m.partition(".")[0] == "weasyprint"]:
                del sys.modules[name]
            import weasyprint
        return weasyprint


def has_cjk_font() -> bool:
    """Whether fontconfig (which WeasyPrint's pango uses) knows a font covering Chinese."""
    try:
        found = subprocess.run(
            ["fc-list", ":lang=zh", "family"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        # No fontconfig at all: pango could not find a Chinese font either.
        return False
    return found.returncode == 0 and bool(found.stdout.strip())


def require_cjk_font(out: Path, *, has_cjk_font: Callable[[], bool] = has_cjk_font) -> None:
    """Raise UserError naming `out` and the font package to install if no CJK font is known."""
    if not has_cjk_font():
        raise UserError(f"{out}: {NO_FONT}")


def html_to_pdf(html: str, out: Path, *, has_cjk_font: Callable[[], bool] = has_cjk_font) -> Path:
    """Render the report's HTML (bihuan.report.render_report) to the PDF file `out`.

    Raises UserError, before writing anything, when no CJK font is installed."""
    require_cjk_font(out, has_cjk_font=has_cjk_font)
    weasyprint = weasyprint_module()
    out.parent.mkdir(parents=True, exist_ok=True)
    with old_objects_frozen():
        css = weasyprint.CSS(string=PRINT_CSS)
        weasyprint.HTML(string=html).write_pdf(out, stylesheets=[css])
    return out


def html_to_pdf_bytes(
    html: str, what: str, *, has_cjk_font: Callable[[], bool] = has_cjk_font
) -> bytes:
    """A document's HTML (e.g. a problem list) as PDF bytes, for a download; UserError naming
    `what` and the font package when no CJK font is installed."""
    if not has_cjk_font():
        raise UserError(f"{what}: {NO_FONT}")
    weasyprint = weasyprint_module()
    with old_objects_frozen():
        css = weasyprint.CSS(string=PRINT_CSS)
        return bytes(weasyprint.HTML(string=html).write_pdf(stylesheets=[css]))


def pdf_beside(html_path: Path, *, has_cjk_font: Callable[[], bool] = has_cjk_font) -> Path | None:
    """Write the PDF next to an HTML report written earlier (same name, .pdf), if a CJK font is
    installed; otherwise log that it was skipped and return None (the HTML is the report)."""
    if not has_cjk_font():
        log.info("no CJK font installed (%s): PDF of %s skipped", FONT_PACKAGE, html_path.name)
        return None
    html = html_path.read_text(encoding="utf-8")
    return html_to_pdf(html, html_path.with_suffix(".pdf"), has_cjk_font=lambda: True)
