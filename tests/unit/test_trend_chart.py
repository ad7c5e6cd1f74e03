"""The trend chart of the results pages: inline SVG, escaped, one dot per year."""

from __future__ import annotations

from bihuan.report_charts import trend_svg


def test_one_dot_per_year_in_its_colour_joined_by_a_line() -> None:
    svg = str(
        trend_svg(
            [(2022, 71.4, "#2e8b57", "第3名"), (2023, 64.0, "#c0392b", "第9名")],
            title="县财政局历年年度得分",
        )
    )
    assert svg.startswith("<svg") and svg.count("<circle") == 2 and "<polyline" in svg
    assert 'fill="#2e8b57"' in svg and 'fill="#c0392b"' in svg
    assert ">71.4<" in svg and ">2023<" in svg and "第9名" in svg
    assert "<script" not in svg and "style=" not in svg  # the portal's CSP allows neither


def test_a_single_year_and_hostile_text() -> None:
    svg = str(trend_svg([(2022, 90.0, "#2e8b57", "<b>1</b>")], title="<script>x</script>"))
    assert svg.count("<circle") == 1 and "<polyline" not in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg
    assert "暂无数据" in str(trend_svg([], title="空"))
