"""The dashboard's charts: accessible SVG that needs nothing from outside, and always the same
numbers as a table, formatted in the merchant's language."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from app.templating import environment
from app.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def _tree(chart: charts.Chart) -> ET.Element:
    return ET.fromstring(str(chart.svg))  # noqa: S314 - our own output


def _every_kind(locale: str = "en") -> list[charts.Chart]:
    return [
        charts.trend("Refund rate by month", "Share of each month's orders refunded", ["2026-01", "2026-02", "2026-03"],
                     {"CJ": [0.02, None, 0.04], "Ali": [0.01, 0.03, 0.025]}, locale=locale, unit="percent",
                     label_column="Month"),
        charts.ranking("Refunds by supplier", "Money refunded per supplier", [("CJ", 1234.5), ("Ali", 99.0)],
                       locale=locale, unit="money", currency="EUR", label_column="Supplier", value_column="Refunded"),
        charts.distribution("Days to refund request", "Requests per day after delivery", [("0", 3), ("1", 12), ("2", 0)],
                            locale=locale, label_column="Days", value_column="Requests"),
        charts.comparison("Told early or late", "Claim rate by when the customer was told", ["early", "late"],
                          {"Claims": [0.1, 0.25]}, locale=locale, unit="percent", label_column="Told"),
        charts.curve("Calibration", "Predicted against observed", {"Learned": [(0.1, 0.12), (0.3, 0.27)]},
                     locale=locale, x_title="Predicted", y_title="Observed", diagonal="Perfect", label_column="Model"),
    ]


@pytest.mark.parametrize("chart", _every_kind(), ids=lambda c: c.kind)
def test_the_svg_is_named_described_and_self_contained(chart):
    root = _tree(chart)
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert (title.text, desc.text) == (chart.title, chart.description)
    # The accessible name points at those two elements.
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    text = str(chart.svg)
    assert "<script" not in text and "<!--" not in text
    assert not re.search(r"(href|src)=|@import|url\(http", text), "nothing fetched from anywhere"
    assert "viewBox" in text


def test_the_table_holds_the_charted_numbers():
    trend, ranking, histogram, comparison, curve = _every_kind()
    assert trend.table.columns == ("Month", "CJ", "Ali")
    assert trend.table.rows == (("2026-01", "2.0%", "1.0%"), ("2026-02", "", "3.0%"), ("2026-03", "4.0%", "2.5%"))
    assert ranking.table == charts.Table(("Supplier", "Refunded"), (("CJ", "€1,234.50"), ("Ali", "€99.00")))
    assert histogram.table.rows == (("0", "3"), ("1", "12"), ("2", "0"))
    assert comparison.table.rows == (("early", "10.0%"), ("late", "25.0%"))
    assert curve.table.rows == (("Learned", "10.0%", "12.0%"), ("Learned", "30.0%", "27.0%"))


def test_the_drawing_carries_the_same_values():
    trend = _every_kind()[0]
    # pygal writes each point's formatted value next to it (its <desc class="value">).
    drawn = [d.text for d in _tree(trend).iter(f"{SVG}desc") if d.get("class") == "value"]
    assert sorted(drawn) == sorted(["2.0%", "4.0%", "1.0%", "3.0%", "2.5%"])
    assert ">2026-02<" in str(trend.svg)


def test_numbers_and_labels_in_french():
    trend, ranking, histogram, *_ = _every_kind("fr")
    assert trend.table.rows[0] == ("2026-01", "2,0\u202f%", "1,0\u202f%")
    assert ranking.table.rows[0] == ("CJ", "1\u202f234,50\u00a0€")
    assert "2,0\u202f%" in str(trend.svg)
    empty = charts.trend("Vide", "Rien", [], {"CJ": []}, locale="fr", unit="percent")
    assert empty.empty and "Rien à afficher" in str(empty.svg)


def test_the_macro_shows_the_chart_and_its_table():
    chart = _every_kind()[1]
    html = environment().from_string(
        '{% import "web/charts.html" as charts %}{{ charts.chart(c, "The numbers") }}').render(c=chart)
    # The desktop's drawing and the phone's (narrower, so its text keeps its size), one table.
    assert html.count("<svg") == 2 and 'viewBox="0 0 380 ' in html and "<summary>The numbers</summary>" in html
    assert html.count("<table") == 1
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)
    assert cells == ["Supplier", "Refunded", "CJ", "€1,234.50", "Ali", "€99.00"]
    empty = charts.ranking("Nothing", "No refunds in this period", [], locale="en")
    html = environment().from_string('{% import "web/charts.html" as charts %}{{ charts.chart(c) }}').render(c=empty)
    assert "<svg" not in html and "No refunds in this period" in html


def test_labels_from_the_store_are_escaped():
    chart = charts.ranking('<b>"Top"</b>', "x", [("<script>alert(1)</script> & co", 3)], locale="en")
    text = str(chart.svg)
    assert "<script" not in text and "&lt;script&gt;" in text and "&lt;b&gt;" in text
    assert _tree(chart).find(f"{SVG}title").text == '<b>"Top"</b>'
