"""Charts for merchant pages: SVG rendered on the server (pygal), no JavaScript and nothing
fetched, so they work offline and inside the admin's frame — each with a <title> and <desc> for
screen readers and ALWAYS the same numbers as a table (templates/web/charts.html shows both).

    trend = charts.trend("Refund rate by month", "Share of orders refunded…", ["2026-01", "2026-02"],
                         {"CJ": [0.02, 0.04]}, locale=locale, unit="percent", label_column="Month")
    {% import "web/charts.html" as charts %} … {{ charts.chart(trend) }}

Kinds: `trend` (lines over periods), `ranking` (horizontal bars, largest first as given),
`distribution` (a histogram of counts per bucket), `comparison` (grouped bars: categories ×
series), `curve` (x/y lines, e.g. a calibration curve against the diagonal). Values are numbers
or None (no data for that point: a gap in the chart, an empty cell in the table); labels on the
axes, the bars and in the table are formatted in the merchant's language (en, fr).
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pygal
from markupsafe import Markup
from pygal.style import Style

from app.templating import format_money, format_number, format_percent, normalise_locale

Unit = Literal["number", "percent", "money", "days", "hours", "share"]
Value = float | int | None

# The dashboard's palette (templates/_styles/dashboard.css): Polaris blue first, then the tones.
COLOURS = ("#005bd3", "#c70a24", "#29845a", "#b28400", "#8051ff", "#616161", "#0094d5", "#e45a00")
_FONT = '-apple-system,BlinkMacSystemFont,"San Francisco","Segoe UI",Roboto,"Helvetica Neue",sans-serif'
# Drawn twice: at WIDTH for a desktop card and at NARROW for a phone (the page shows the one that
# fits, templates/web/charts.html), so the text keeps its size instead of shrinking with the drawing.
WIDTH, HEIGHT = 720, 360
NARROW, NARROW_HEIGHT = 380, 300
STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#303030",
    foreground_strong="#303030", foreground_subtle="#8a8a8a", opacity=".9", opacity_hover="1",
    colors=COLOURS, font_family=_FONT, label_font_size=16, major_label_font_size=16,
    value_font_size=15, legend_font_size=16, title_font_size=18, no_data_font_size=18,
    guide_stroke_color="#ebebeb", major_guide_stroke_color="#e3e3e3", transition="0s",
)
_PHRASES = {
    "en": {"no_data": "Nothing to show yet", "days": "{n} d", "hours": "{n} h"},
    "fr": {"no_data": "Rien à afficher pour l'instant", "days": "{n} j", "hours": "{n} h"},
}
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def formatter(unit: Unit, locale: str, currency: str | None = None) -> Callable[[Value], str]:
    """How a value of this unit reads in the merchant's language ("" for no value)."""
    locale = normalise_locale(locale)
    phrases = _PHRASES.get(locale, _PHRASES["en"])

    def fmt(value: Value) -> str:
        if value is None:
            return ""
        if unit == "percent":
            return format_percent(value, locale)
        if unit == "share":  # a share shown as a plain 0–1 number (a probability, a Brier score)
            return format_number(value, locale, 3)
        if unit == "money":
            return format_money(value, currency or "", locale)
        if unit in ("days", "hours"):
            return phrases[unit].format(n=format_number(value, locale, 1 if value % 1 else 0))
        return format_number(value, locale, 0 if float(value).is_integer() else 1)

    return fmt


@dataclass(frozen=True)
class Table:
    """The chart's data as the page shows it: a header and formatted rows (first cell the label)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    id: str
    kind: str
    title: str
    description: str
    svg: Markup
    table: Table
    svg_narrow: Markup = Markup("")

    @property
    def empty(self) -> bool:
        return not self.table.rows


def _config(locale: str, fmt: Callable[[Value], str], **extra) -> dict:
    return {
        "style": STYLE, "width": WIDTH, "height": HEIGHT, "js": [], "disable_xml_declaration": True,
        "no_prefix": False, "value_formatter": fmt, "no_data_text": _PHRASES[normalise_locale(locale)]["no_data"],
        "legend_at_bottom": True, "legend_at_bottom_columns": 3, "truncate_label": 28, "truncate_legend": 30,
        "margin": 8, "margin_right": 40, "margin_top": 16, "spacing": 12, "max_scale": 6, "show_minor_x_labels": True, **extra,
    }


# The same figures draw the same chart: pages are viewed far more often than the aggregates change,
# so a drawing is kept by everything it is drawn from (kind, words, numbers, language) and reused.
_DRAWN: OrderedDict[str, tuple[tuple[str, str], tuple[str, str]]] = OrderedDict()
_DRAWN_KEEP = 512
_drawn_lock = threading.Lock()


def _finish(chart: Any, kind: str, title: str, description: str, table: Table) -> Chart:
    key = repr((kind, title, description, getattr(chart, "x_labels", None), chart.raw_series,
                table, chart.config.height))
    with _drawn_lock:
        found = _DRAWN.get(key)
        if found is not None:
            _DRAWN.move_to_end(key)
    if found is None:
        found = _draw(chart, title, description)
        with _drawn_lock:
            _DRAWN[key] = found
            while len(_DRAWN) > _DRAWN_KEEP:
                _DRAWN.popitem(last=False)
    wide, narrow = found
    # Safe markup: every label (a product title, a supplier's name) is element text or an attribute
    # that ElementTree escaped when it wrote the tree.
    return Chart(id=wide[0], kind=kind, title=title, description=description, svg=Markup(wide[1]),  # noqa: S704
                 table=table, svg_narrow=Markup(narrow[1]))  # noqa: S704


def _draw(chart: Any, title: str, description: str) -> tuple[tuple[str, str], tuple[str, str]]:
    wide = _svg(chart, title, description)
    chart.width = NARROW
    if chart.config.height == HEIGHT:
        chart.height = NARROW_HEIGHT
    chart.truncate_label = 14
    chart.legend_at_bottom_columns = 2
    return wide, _svg(chart, title, description)


def _svg(chart: Any, title: str, description: str) -> tuple[str, str]:
    """The SVG with its accessible name and description, and without pygal's script (we ship none)."""
    tree = chart.render_tree()
    chart_id = tree.get("id")  # pygal's own (a uuid): its CSS is scoped to it
    for parent in tree.iter():
        for child in list(parent):
            if child.tag in ("script", "{http://www.w3.org/2000/svg}script"):
                parent.remove(child)
    title_element, desc_element = ET.Element("title", id=f"{chart_id}-title"), ET.Element("desc", id=f"{chart_id}-desc")
    title_element.text, desc_element.text = title, description
    tree.insert(0, desc_element)
    tree.insert(0, title_element)
    tree.set("role", "img")
    tree.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    tree.set("preserveAspectRatio", "xMidYMid meet")
    return chart_id, _COMMENT.sub("", ET.tostring(tree, encoding="unicode", short_empty_elements=True))


def trend(title: str, description: str, periods: Sequence[str], series: dict[str, Sequence[Value]], *,
          locale: str, unit: Unit = "number", currency: str | None = None, label_column: str = "") -> Chart:
    """Lines over periods (months): one line per series, a gap where a value is None."""
    fmt = formatter(unit, locale, currency)
    chart = pygal.Line(**_config(locale, fmt, x_label_rotation=0 if len(periods) <= 8 else 30,
                                 show_legend=len(series) > 1, dots_size=4, allow_interruptions=True,
                                 include_x_axis=True, show_x_guides=False))
    chart.x_labels = list(periods)
    chart.x_labels_major_every = max(1, len(periods) // 8)
    chart.show_minor_x_labels = len(periods) <= 12
    for name, values in series.items():
        chart.add(name, [None if v is None else float(v) for v in values])
    rows = tuple((period, *(fmt(values[i]) for values in series.values())) for i, period in enumerate(periods))
    return _finish(chart, "trend", title, description, Table((label_column, *series), rows))


def ranking(title: str, description: str, items: Sequence[tuple[str, Value]], *, locale: str,
            unit: Unit = "number", currency: str | None = None, label_column: str = "",
            value_column: str = "", limit: int = 12) -> Chart:
    """Horizontal bars, in the order given (the first on top): the top `limit` drawn, all tabled."""
    fmt = formatter(unit, locale, currency)
    shown = list(items)[:limit]
    chart = pygal.HorizontalBar(**_config(locale, fmt, show_legend=False, print_values=True, margin_right=72,
                                          print_values_position="top", show_y_labels=False,
                                          height=max(160, 56 + 34 * len(shown)), show_y_guides=False,
                                          include_x_axis=True))
    # pygal draws the first label at the bottom: reversed, the largest is on top.
    chart.x_labels = [label for label, _ in reversed(shown)]
    chart.add(value_column or title, [None if v is None else float(v) for _, v in reversed(shown)])
    rows = tuple((label, fmt(value)) for label, value in items)
    return _finish(chart, "ranking", title, description, Table((label_column, value_column), rows))


def distribution(title: str, description: str, buckets: Sequence[tuple[str, Value]], *, locale: str,
                 label_column: str = "", value_column: str = "") -> Chart:
    """A histogram: the count in each bucket (days, probability ranges…), buckets in order."""
    fmt = formatter("number", locale)
    chart = pygal.Bar(**_config(locale, fmt, show_legend=False, spacing=2, show_x_guides=False,
                                x_label_rotation=0 if len(buckets) <= 12 else 45))
    chart.x_labels = [label for label, _ in buckets]
    chart.x_labels_major_every = max(1, len(buckets) // 12)
    chart.show_minor_x_labels = len(buckets) <= 16
    chart.add(value_column or title, [None if v is None else float(v) for _, v in buckets])
    rows = tuple((label, fmt(value)) for label, value in buckets)
    return _finish(chart, "distribution", title, description, Table((label_column, value_column), rows))


def comparison(title: str, description: str, categories: Sequence[str], series: dict[str, Sequence[Value]], *,
               locale: str, unit: Unit = "number", currency: str | None = None, label_column: str = "") -> Chart:
    """Grouped bars: for each category, one bar per series (e.g. claim and dispute rates of orders
    told early, late or never)."""
    fmt = formatter(unit, locale, currency)
    chart = pygal.Bar(**_config(locale, fmt, show_legend=len(series) > 1, show_x_guides=False,
                                print_values=len(categories) * len(series) <= 12, print_values_position="top"))
    chart.x_labels = list(categories)
    for name, values in series.items():
        chart.add(name, [None if v is None else float(v) for v in values])
    rows = tuple((category, *(fmt(values[i]) for values in series.values())) for i, category in enumerate(categories))
    return _finish(chart, "comparison", title, description, Table((label_column, *series), rows))


def curve(title: str, description: str, series: dict[str, Sequence[tuple[float, float]]], *, locale: str,
          x_title: str, y_title: str, unit: Unit = "percent", diagonal: str | None = None,
          label_column: str = "") -> Chart:
    """Lines through (x, y) points, optionally with the diagonal y = x (a perfectly calibrated
    model's curve). The table lists every point of every series."""
    fmt = formatter(unit, locale)
    points = [p for values in series.values() for p in values]
    top = max([0.0001, *(max(x, y) for x, y in points)])
    # The diagonal is drawn last, in grey: the reference, not a series to read.
    style = Style(**{**STYLE.to_dict(), "colors": (*COLOURS[:len(series)], "#8a8a8a")})
    chart = pygal.XY(**_config(locale, fmt, style=style, x_value_formatter=fmt, show_legend=True, dots_size=4,
                               x_title=x_title, y_title=y_title, range=(0, top), xrange=(0, top),
                               include_x_axis=True))
    for name, values in series.items():
        chart.add(name, [(float(x), float(y)) for x, y in values])
    if diagonal:
        chart.add(diagonal, [(0, 0), (top, top)], stroke_style={"dasharray": "6,6", "width": 2}, show_dots=False)
    rows = tuple((name, fmt(x), fmt(y)) for name, values in series.items() for x, y in values)
    return _finish(chart, "curve", title, description, Table((label_column, x_title, y_title), rows))
